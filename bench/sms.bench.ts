/**
 * End to end against PyTorch: `sparse-soups run configs/fashion-mnist-quick.yaml`
 * (dense training, 3 phases of m = 3 candidates, IMP chains, soups, every
 * model scored with BN recalibration, OOD sets) against the same work written
 * in plain PyTorch (bench/peer/sms_quick.py, Debian's python3-torch on the
 * same libtorch), each in a fresh process and a fresh output directory, with
 * the same thread count:
 *
 *   npm run bench:sms                               # installs python3-torch if missing, then runs
 *   node --import tsx bench/sms.bench.ts [--threads 2] [--variants default,processes] [--no-peer] [--peer-first]
 *                                        [--keep] [--smoke] [--no-build] [--sample-ms 200]
 *
 * Each side runs under GNU time (`/usr/bin/time -v`, when there is one: CPU
 * seconds and the largest process's peak RSS) while a sampler sums the RSS of
 * its whole process tree from /proc every --sample-ms (the peak RSS column:
 * executor child processes included). Threads: both sides get
 * OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS = --threads, and
 * `--threads` on the sparse-soups command line (not for the default variant when
 * --threads = cores: the CLI default then gives each of the auto executor's workers
 * its share) and `torch.set_num_threads` in
 * the peer. `--variants` lists the sparse-soups runs: `default` (the CLI's
 * default executor, no flag), `inline`, `processes` (--workers = threads, one
 * thread each). The sparse-soups side runs the compiled command
 * (dist/src/cli/main.js, built by tsc first unless --no-build, untimed), as an
 * installed package does. `--smoke` shrinks both sides (1,024 training and
 * 500 test images, 200 per OOD set, 1 epoch) to check the harness; its numbers
 * mean nothing.
 *
 * Prints a table (wall seconds per stage: setup, dense, each phase, finish;
 * seconds inside the retraining loops; CPU seconds; memory; mean load; final
 * accuracies) and, last, one JSON line whose `wallRatio` is sparse-soups wall
 * ÷ PyTorch wall for the first variant (the target: ≤ 0.5).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { TreeRssSampler, procAvailable } from './proc-tree.js';
import {
  formatTable,
  marksFromEvents,
  marksFromPeer,
  nodeRunArgs,
  parseSmsBenchArgs,
  parseTimeVerbose,
  peerArgs,
  processesNote,
  smokeConfig,
  stageSeconds,
  summarize,
  threadEnv,
  variantLabel,
  type SideResult,
} from './sms-bench-lib.js';

const GNU_TIME = '/usr/bin/time';
const PEER = 'bench/peer/sms_quick.py';

interface Finished {
  exitCode: number;
  startMs: number;
  endMs: number;
  stdout: string;
  peakTreeRssMiB: number | null;
  time: ReturnType<typeof parseTimeVerbose>;
  load: { before: number; after: number; mean: number };
}

/** Runs one side: under GNU time when present, its tree's RSS sampled, stderr passed through, stdout kept. */
function measure(cmd: string, args: string[], env: Record<string, string>, sampleMs: number, work: string): Promise<Finished> {
  const timeFile = join(work, `time-${Date.now()}.txt`);
  const wrapped = existsSync(GNU_TIME);
  const before = loadavg()[0];
  const startMs = Date.now();
  const child = wrapped
    ? spawn(GNU_TIME, ['-v', '-o', timeFile, cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const sampler = procAvailable() && child.pid !== undefined ? new TreeRssSampler(child.pid, sampleMs, wrapped) : null;
  // The machine may be shared: the load while the side ran, not only at its ends, says how much of it the side had.
  const loads = [before];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]), 5000);
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const endMs = Date.now();
      const peak = sampler?.stop();
      clearInterval(loadTimer);
      const time = wrapped && existsSync(timeFile) ? parseTimeVerbose(readFileSync(timeFile, 'utf8')) : null;
      resolvePromise({
        exitCode: code ?? 1,
        startMs,
        endMs,
        stdout,
        peakTreeRssMiB: peak ? peak.peakKiB / 1024 : null,
        time,
        load: { before, after: loadavg()[0], mean: loads.reduce((a, b) => a + b, 0) / loads.length },
      });
    });
  });
}

function sideResult(
  label: string,
  side: SideResult['side'],
  command: string,
  f: Finished,
): Omit<SideResult, 'stages' | 'retrainLoopSeconds' | 'accuracy'> {
  return {
    label,
    side,
    command,
    exitCode: f.exitCode,
    wallSeconds: (f.endMs - f.startMs) / 1000,
    peakTreeRssMiB: f.peakTreeRssMiB,
    maxProcessRssMiB: f.time ? f.time.maxRssKiB / 1024 : null,
    cpuSeconds: f.time ? f.time.userSeconds + f.time.systemSeconds : null,
    load: f.load,
  };
}

/** The one run directory `sparse-soups run --out <out>` made. */
function runDirIn(out: string): string | null {
  const dirs = existsSync(out) ? readdirSync(out, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
  return dirs.length === 1 ? join(out, dirs[0].name) : null;
}

/** Seconds inside the retraining loops: the `seconds` of every retrain result record of the run. */
function retrainLoopSeconds(runDir: string): number {
  let total = 0;
  for (const phase of readdirSync(runDir).filter((d) => d.startsWith('phase-'))) {
    for (const f of readdirSync(join(runDir, phase)).filter((n) => n.endsWith('.result.json'))) {
      total += (JSON.parse(readFileSync(join(runDir, phase, f), 'utf8')) as { seconds: number }).seconds;
    }
  }
  return total;
}

interface MetricsLike {
  testAccuracy: number;
  sparsity: number;
}
interface ResultsLike {
  dense: MetricsLike;
  phases: {
    soups: { uniform: { metrics: MetricsLike }; greedy: { metrics: MetricsLike } };
    imp: { mean: { testAccuracy: number } } | null;
  }[];
}

async function runSparseSoups(
  variant: Parameters<typeof nodeRunArgs>[3],
  cliArgs: string[],
  config: string,
  threads: number,
  sampleMs: number,
  work: string,
  keep: boolean,
): Promise<SideResult> {
  const out = mkdtempSync(join(tmpdir(), `sms-bench-${variant}-`));
  const args = nodeRunArgs(cliArgs, config, out, variant, threads, cpus().length);
  const command = `node ${args.join(' ')}`;
  process.stderr.write(`\n== ${command}\n`);
  const f = await measure(process.execPath, args, threadEnv(threads), sampleMs, work);
  const runDir = runDirIn(out);
  let stages: Record<string, number> = {};
  let defaultExecutor = 'inline';
  let accuracy: SideResult['accuracy'] = null;
  let loops: number | null = null;
  if (runDir !== null && existsSync(join(runDir, 'events.jsonl'))) {
    const events = readFileSync(join(runDir, 'events.jsonl'), 'utf8');
    stages = stageSeconds(f.startMs, f.endMs, marksFromEvents(events));
    const start = events.split('\n').find((l) => l.includes('"run-start"'));
    if (start) defaultExecutor = (JSON.parse(start) as { executor: string }).executor;
    loops = retrainLoopSeconds(runDir);
  }
  if (runDir !== null && existsSync(join(runDir, 'results.json'))) {
    const r = JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as ResultsLike;
    const last = r.phases[r.phases.length - 1];
    accuracy = {
      dense: r.dense.testAccuracy,
      uniformSoup: last.soups.uniform.metrics.testAccuracy,
      greedySoup: last.soups.greedy.metrics.testAccuracy,
      impMean: last.imp?.mean.testAccuracy ?? NaN,
      sparsity: last.soups.uniform.metrics.sparsity,
    };
  }
  if (f.exitCode !== 0) process.stderr.write(`sparse-soups (${variant}) exited with ${f.exitCode}; stdout:\n${f.stdout.slice(-2000)}\n`);
  if (!keep) rmSync(out, { recursive: true, force: true });
  else process.stderr.write(`kept ${out}\n`);
  return { ...sideResult(variantLabel(variant, defaultExecutor), 'sparse-soups', command, f), stages, retrainLoopSeconds: loops, accuracy };
}

interface PeerLine {
  wall_s: number;
  seconds: Record<string, number>;
  marks: Record<string, number>;
  dense_test_accuracy: number;
  uniform_soup_test_accuracy: number;
  greedy_soup_test_accuracy: number;
  imp_mean_test_accuracy: number;
  final_sparsity: number;
  torch: string;
}

async function runPeer(
  python: string,
  threads: number,
  smoke: boolean,
  sampleMs: number,
  work: string,
  keep: boolean,
): Promise<SideResult> {
  const out = mkdtempSync(join(tmpdir(), 'sms-bench-peer-'));
  const args = peerArgs(PEER, out, threads, smoke);
  const command = `${python} ${args.join(' ')}`;
  process.stderr.write(`\n== ${command}\n`);
  const f = await measure(python, args, threadEnv(threads), sampleMs, work);
  const line = f.stdout.trim().split('\n').pop() ?? '';
  let peer: PeerLine | null = null;
  try {
    peer = JSON.parse(line) as PeerLine;
  } catch {
    process.stderr.write(
      `PyTorch peer gave no JSON line (exit ${f.exitCode}; run scripts/setup-bench.sh to install python3-torch):\n${f.stdout.slice(-2000)}\n`,
    );
  }
  if (peer !== null) process.stderr.write(`${f.stdout.trim().split('\n').slice(0, -1).join('\n')}\n`);
  if (!keep) rmSync(out, { recursive: true, force: true });
  else process.stderr.write(`kept ${out}\n`);
  return {
    ...sideResult(`PyTorch ${peer?.torch ?? ''}`.trim(), 'pytorch', command, f),
    stages: peer ? stageSeconds(f.startMs, f.endMs, marksFromPeer(peer.marks)) : {},
    retrainLoopSeconds: peer?.seconds.retraining ?? null,
    accuracy: peer
      ? {
          dense: peer.dense_test_accuracy,
          uniformSoup: peer.uniform_soup_test_accuracy,
          greedySoup: peer.greedy_soup_test_accuracy,
          impMean: peer.imp_mean_test_accuracy,
          sparsity: peer.final_sparsity,
        }
      : null,
  };
}

function gitCommit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout.trim() !== '';
  return dirty ? `${head}-dirty` : head;
}

async function main(): Promise<void> {
  const opts = parseSmsBenchArgs(process.argv.slice(2));
  const cores = cpus().length;
  const work = mkdtempSync(join(tmpdir(), 'sms-bench-'));
  const notes: string[] = [];
  if (opts.variants.includes('processes')) {
    const note = processesNote(opts.threads, cores);
    if (note) notes.push(note);
  }
  if (!existsSync(GNU_TIME)) notes.push(`${GNU_TIME} not found: no CPU seconds or single-process max RSS`);
  if (!procAvailable()) notes.push('no /proc: no process-tree RSS');

  let config = resolve(opts.config);
  if (opts.smoke) {
    config = join(work, 'smoke.yaml');
    writeFileSync(config, stringifyYaml(smokeConfig(parseYaml(readFileSync(resolve(opts.config), 'utf8')) as Record<string, unknown>)));
    notes.push('--smoke: a shrunken workload to check the harness; not a measurement');
  }
  let cliArgs = ['--import', 'tsx', 'src/cli/main.ts'];
  if (opts.build && opts.variants.length > 0) {
    process.stderr.write('building dist/ (tsc -p tsconfig.build.json; not timed) ...\n');
    const built = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
    cliArgs = ['dist/src/cli/main.js'];
  } else if (opts.variants.length > 0) notes.push('--no-build: sparse-soups ran from sources through tsx');

  const commit = gitCommit();
  process.stderr.write(
    `commit ${commit}, ${cores} cores, ${opts.threads} threads, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  const rows: SideResult[] = [];
  const peer = async (): Promise<void> =>
    void rows.push(await runPeer(opts.python, opts.threads, opts.smoke, opts.sampleMs, work, opts.keep));
  if (opts.peer && opts.peerFirst) await peer();
  for (const [i, variant] of opts.variants.entries()) {
    rows.push(await runSparseSoups(variant, cliArgs, config, opts.threads, opts.sampleMs, work, opts.keep));
    // The peer between the first sparse-soups run and the others: load drifts on a shared machine.
    if (i === 0 && opts.peer && !opts.peerFirst) await peer();
  }
  if (opts.peer && !opts.peerFirst && opts.variants.length === 0) await peer();
  rmSync(work, { recursive: true, force: true });

  const summary = summarize(rows, { config: opts.config, smoke: opts.smoke, commit, threads: opts.threads, cores, notes });
  console.log(
    `\nconfigs: ${opts.config}${opts.smoke ? ' (--smoke)' : ''}; commit ${commit}; ${cores} cores; ${opts.threads} threads each side`,
  );
  console.log(formatTable(rows));
  for (const n of notes) console.log(`note: ${n}`);
  console.log(
    summary.wallRatio === null
      ? 'wall-time ratio: n/a (both sides must finish)'
      : `wall-time ratio sparse-soups / PyTorch: ${summary.wallRatio} (target ≤ ${summary.target})`,
  );
  console.log(JSON.stringify(summary));
  if (rows.some((r) => r.exitCode !== 0)) process.exitCode = 1;
}

await main();
