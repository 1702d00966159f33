/**
 * Queue names, job identities and the Redis connection of the queue executor.
 *
 * A job's id is a function of what it computes, so enqueuing the same phase
 * twice (a retried command, a coordinator restarted after a crash) finds the
 * jobs already there instead of adding new ones:
 *
 *   retrain   <configHash>.<dirTag>.p<phase>.<kind>.c<candidate>
 *   merge     <configHash>.<dirTag>.p<phase>.merge
 *
 * `configHash` is the run's config hash; `dirTag` is 8 hex digits of the
 * SHA-256 of the run directory's absolute path, so the same config run into
 * two directories (two `--out` roots, a test beside a real run) never shares
 * jobs. Dots separate the parts because BullMQ refuses custom ids with colons.
 */
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { RedisOptions } from 'bullmq';
import { configHash, type SmsConfig } from '../../sms/config.js';
import type { RetrainJob } from '../../sms/retrain.js';
import type { PhaseMergeSpec } from '../../sms/plan.js';
import { SparseSoupsError } from '../../util/errors.js';

/** Retrain jobs: one per candidate (and per baseline chain) of a phase. */
export const RETRAIN_QUEUE = 'sparse-soups-retrain';
/** Merge jobs: a phase's merge step (`mergePhaseOnce`) once its retrains are done. */
export const MERGE_QUEUE = 'sparse-soups-merge';

/** The run part of every job id: config hash and a tag of the run directory. */
export function runKey(config: SmsConfig, workDir: string): string {
  const dirTag = createHash('sha256').update(resolve(workDir)).digest('hex').slice(0, 8);
  return `${configHash(config)}.${dirTag}`;
}

/** The run directory of a retrain job (its output lies in `<workDir>/phase-<p>/`). */
export function workDirOfJob(job: RetrainJob): string {
  return dirname(dirname(resolve(job.output)));
}

export function retrainJobId(job: RetrainJob): string {
  return `${runKey(job.config, workDirOfJob(job))}.p${job.phase}.${job.kind}.c${job.spec.index}`;
}

export function mergeJobId(merge: PhaseMergeSpec): string {
  return `${runKey(merge.config, merge.runDir)}.p${merge.phase}.merge`;
}

/**
 * ioredis options from a `redis://[user:password@]host:port[/db]` URL, with
 * what BullMQ recommends for processes that must outlive a Redis restart:
 * no per-command retry limit (commands wait for the reconnect) and a
 * reconnect every ≤ 2 s, forever.
 */
export function redisConnection(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SparseSoupsError(`--redis: '${url}' is not a URL; expected redis://host:port (e.g. redis://127.0.0.1:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new SparseSoupsError(`--redis: '${url}' must start with redis:// or rediss://`);
  }
  const db = parsed.pathname.length > 1 ? Number.parseInt(parsed.pathname.slice(1), 10) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new SparseSoupsError(`--redis: '${url}': database '${parsed.pathname.slice(1)}' is not a number`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    db,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}

/**
 * Wraps a line sink so that a message repeated within `windowMs` is dropped:
 * while Redis is down every connection reports every reconnect attempt.
 */
export function withoutRepeats(sink: (line: string) => void, windowMs = 10_000): (line: string) => void {
  const lastSeen = new Map<string, number>();
  return (line) => {
    const now = Date.now();
    const last = lastSeen.get(line);
    if (last !== undefined && now - last < windowMs) return;
    lastSeen.set(line, now);
    if (lastSeen.size > 100) for (const [k, t] of lastSeen) if (now - t >= windowMs) lastSeen.delete(k);
    sink(line);
  };
}
