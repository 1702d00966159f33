/**
 * A queue worker as a process of its own (for tests, benches and hosts
 * without the CLI):
 *
 *   node --import tsx src/exec/queue/worker-main.ts --redis redis://host:port \
 *     [--threads T] [--concurrency N] [--device cuda:N] [--lock-duration-ms MS] \
 *     [--stalled-interval-ms MS] [--max-stalled-count N] [--prefix P]
 *
 * With --threads, OMP/OpenBLAS/MKL thread counts are set before libtorch
 * loads (OpenBLAS sizes its pool once, at load), so a job's bits equal an
 * inline run's with the same thread count. Prints one JSON line per event on
 * stdout ({"type":"ready",...} once it takes jobs). SIGTERM or SIGINT: stop
 * taking jobs, finish the running ones, exit 0; a second signal exits at once.
 * Started with an IPC channel (by runWorker with concurrency > 1), it also
 * stops when its parent goes away.
 */
import type { RunWorkerOptions, WorkerEvent } from './worker.js';
import { ConfigError } from '../../util/errors.js';

function parseArgs(argv: string[]): RunWorkerOptions {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || v.startsWith('--')) throw new ConfigError(flag, `needs a value (${flag} <value>)`);
    return v;
  };
  const int = (flag: string): number | undefined => {
    const v = value(flag);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(flag, `expected a positive integer, got '${v}'`);
    return n;
  };
  const known = new Set([
    '--redis',
    '--threads',
    '--concurrency',
    '--device',
    '--lock-duration-ms',
    '--stalled-interval-ms',
    '--max-stalled-count',
    '--prefix',
  ]);
  for (let i = 0; i < argv.length; i += 2)
    if (!known.has(argv[i])) throw new ConfigError(argv[i], `unknown argument (known: ${[...known].join(', ')})`);
  const redis = value('--redis');
  if (redis === undefined) throw new ConfigError('--redis', 'required (--redis redis://host:port)');
  return {
    redis,
    threads: int('--threads'),
    concurrency: int('--concurrency'),
    device: value('--device'),
    lockDurationMs: int('--lock-duration-ms'),
    stalledIntervalMs: int('--stalled-interval-ms'),
    maxStalledCount: int('--max-stalled-count'),
    prefix: value('--prefix'),
  };
}

let options: RunWorkerOptions;
try {
  options = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`worker: ${(e as Error).message}\n`);
  process.exit(2);
}
if (options.threads !== undefined) {
  for (const v of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']) process.env[v] ??= String(options.threads);
}

const stop = new AbortController();
let signals = 0;
const onSignal = (): void => {
  if (++signals > 1) process.exit(1);
  stop.abort();
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
// Started by runWorker({ concurrency > 1 }) with an IPC channel: a supervisor that is gone stops this worker too.
if (process.send) process.on('disconnect', () => stop.abort());

// libtorch loads with the worker module: after the environment above is set.
const { runWorker } = await import('./worker.js');
try {
  await runWorker({
    ...options,
    signal: stop.signal,
    onEvent: (e: WorkerEvent) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...e })}\n`),
  });
  process.exit(0);
} catch (e) {
  process.stderr.write(`worker: ${(e as Error).message}\n`);
  process.exit(1);
}
