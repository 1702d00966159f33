/**
 * Parallel candidates: one SMS phase of m retrain jobs and its merge
 * (ConvNet on a Fashion-MNIST subset, from a 50%-pruned parent), run
 *   (a) inline, one job after another, then the merge, with 2 libtorch threads, and
 *   (b) by ProcessExecutor with 2 child processes of 1 thread each (each
 *       child also scores its own candidate), then the merge in this
 *       process at the executor's mergeThreads (1 on 2 cores: the children
 *       score the pruned parent and the soups meanwhile, each split in 2
 *       parts), cold (process start, data loading and the OOD sets
 *       included), prepared (a fresh pool whose children were started and
 *       loaded the data before the phase, untimed: a run's first phase, as
 *       runSms prepares the pool while it trains the dense model) and warm
 *       (the same pool again: every later phase).
 *
 *   node --import tsx bench/parallel.bench.ts [--candidates 4] [--images 4096] [--epochs 1] [--repeats 1] [--inline-1] [--retrain-only | --before]
 *
 * --retrain-only times executor.run alone, without in-child scoring and
 * without the merge (the measurement before the children scored their
 * candidates); --before adds process rows as they were before issue #15
 * (children retrain only, the merge scores every model in this process);
 * --inline-1 adds an inline row at 1 thread.
 *
 * Prints tables (wall times and speedups: inline wall / processes wall;
 * where the time of the jobs went; child start and peak memory) and a final
 * JSON line. Cold and warm runs of the same jobs must give the same
 * checkpoint bytes and the same phase record (a reused child carries no
 * state over).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setNumThreads, libtorchVersion } from '../src/tensor/index.js';
import { parseSmsConfig } from '../src/sms/config.js';
import { candidateSpecs } from '../src/sms/candidates.js';
import { buildModel, experimentData } from '../src/sms/context.js';
import { InlineExecutor, type RetrainExecutor } from '../src/sms/executor.js';
import { pruneCheckpoint, type PruneResult } from '../src/sms/masks.js';
import { candidateJobName, type PhaseMergeSpec, type PhaseResults } from '../src/sms/plan.js';
import { mergePhaseOnce } from '../src/sms/merge.js';
import { runLayout } from '../src/sms/layout.js';
import type { RetrainJob, RetrainStages } from '../src/sms/retrain.js';
import { saveCheckpoint, type CheckpointRef } from '../src/checkpoints/store.js';
import { ProcessExecutor } from '../src/exec/process-executor.js';

const { values: args } = parseArgs({
  options: {
    candidates: { type: 'string', default: '4' },
    images: { type: 'string', default: '4096' },
    epochs: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '1' },
    /** Also time the inline phase at 1 thread: how much a second thread helps one job. */
    'inline-1': { type: 'boolean', default: false },
    /** Time executor.run alone (no in-child scoring, no merge). */
    'retrain-only': { type: 'boolean', default: false },
    /** Also the process rows as before issue #15: children only retrain; the merge scores every model in this process. */
    before: { type: 'boolean', default: false },
  },
});
const m = Number(args.candidates);
const images = Number(args.images);
const epochs = Number(args.epochs);
const repeats = Number(args.repeats);
const retrainOnly = args['retrain-only'];

const config = parseSmsConfig({
  name: 'bench-parallel',
  seed: 1,
  data: { dataset: 'fashion-mnist', trainSubset: images, batchSize: 128 },
  model: { name: 'convnet' },
  dense: { epochs: 1, maxLr: 0.1 },
  retrain: { epochs },
  candidates: { count: m },
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

type Stage = keyof RetrainStages;
const STAGES: Stage[] = ['data', 'load', 'train', 'validation', 'save', 'score'];

interface PhaseTime {
  /** Wall seconds of the phase: retrains and merge. */
  seconds: number;
  retrainSeconds: number;
  mergeSeconds: number;
  hashes: string[];
  /** The merge's phase record without paths and wall times. */
  record: string;
  /** The jobs' stage seconds, summed over the jobs. */
  stages: RetrainStages;
}

/** Runs one phase (retrains, then the merge unless --retrain-only) into `runDir`. */
async function timePhase(executor: RetrainExecutor, jobs: RetrainJob[], spec: PhaseMergeSpec, scoreHere: boolean): Promise<PhaseTime> {
  const t0 = performance.now();
  const results = await executor.run(jobs);
  const t1 = performance.now();
  if (results.some((r) => r.reused)) throw new Error(`${executor.name}: a job was reused, not run`);
  let record = '';
  if (!retrainOnly) {
    const named: PhaseResults = Object.fromEntries(results.map((r, i) => [candidateJobName(i), r]));
    const { result, reused } = scoreHere ? await mergePhaseOnce(spec, named) : await executor.merge(spec, named);
    if (reused) throw new Error(`${executor.name}: the merge was reused, not run`);
    record = JSON.stringify(result, (key, value: unknown) => (key === 'seconds' || key === 'checkpoint' ? undefined : value));
  }
  const t2 = performance.now();
  const stages: RetrainStages = { data: 0, load: 0, train: 0, validation: 0, save: 0, score: 0 };
  for (const r of results) for (const k of STAGES) stages[k] += r.stages?.[k] ?? 0;
  return {
    seconds: (t2 - t0) / 1000,
    retrainSeconds: (t1 - t0) / 1000,
    mergeSeconds: (t2 - t1) / 1000,
    hashes: results.map((r) => r.checkpoint.sha256),
    record,
    stages,
  };
}

/** Peak resident memory of a process (VmHWM), MB; NaN where /proc is not there. */
function peakRssMb(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-parallel-'));
  const loadBefore = loadavg();
  try {
    // Inputs of the phase: the initialization as parent and its 50% global-magnitude mask.
    experimentData(config); // loaded once here, as runSms has it before the first phase
    const model = buildModel(config, config.seed);
    const parent = await saveCheckpoint(join(dir, 'parent.safetensors'), model.stateDict());
    model.dispose();
    const prune: PruneResult = await pruneCheckpoint(config, parent, null, 0.5, 1, join(dir, 'mask.safetensors'));
    const mask: CheckpointRef = prune.mask;
    if (!retrainOnly) experimentData(config).ood(); // the OOD sets: runSms has them from scoring the dense model
    // A run directory per phase run, so nothing is reused: executors skip a job whose verified result exists, and the merge a merged phase.
    const phase = (tag: string, threads: number | undefined, scoreHere: boolean): { jobs: RetrainJob[]; spec: PhaseMergeSpec } => {
      const runDir = join(dir, tag);
      mkdirSync(runLayout(runDir).phaseDir(1), { recursive: true });
      const jobs = candidateSpecs(config).map((spec) => ({
        config,
        phase: 1,
        spec,
        kind: 'sms' as const,
        parent,
        mask,
        output: runLayout(runDir).candidate(1, spec.index),
        threads,
        ...((retrainOnly || scoreHere) && { score: false }),
      }));
      return { jobs, spec: { config, phase: 1, targetSparsity: 0.5, runDir, mask: prune, parent } };
    };
    const timeIt = async (executor: RetrainExecutor, tag: string, threads?: number, scoreHere = false): Promise<PhaseTime> => {
      const p = phase(tag, threads, scoreHere);
      return timePhase(executor, p.jobs, p.spec, scoreHere);
    };

    const modes = ['inline', 'inline1', 'cold', 'prepared', 'warm', 'coldBefore', 'warmBefore'] as const;
    type Mode = (typeof modes)[number];
    const times = Object.fromEntries(modes.map((k) => [k, [] as PhaseTime[]])) as Record<Mode, PhaseTime[]>;
    const childStartSeconds: number[] = [];
    const childPeakRssMb: number[] = [];
    const childPeakRssBeforeMb: number[] = [];
    for (let r = 0; r < repeats; r++) {
      setNumThreads(2);
      times.inline.push(await timeIt(new InlineExecutor(), `inline-${r}`, 2));
      if (args['inline-1']) {
        setNumThreads(1);
        times.inline1.push(await timeIt(new InlineExecutor(), `inline1-${r}`, 1));
        setNumThreads(2);
      }
      const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, onWorkerReady: (_, s) => childStartSeconds.push(s) });
      try {
        const cold = await timeIt(executor, `cold-${r}`);
        const warm = await timeIt(executor, `warm-${r}`);
        times.cold.push(cold);
        times.warm.push(warm);
        for (const pid of executor.pids()) childPeakRssMb.push(peakRssMb(pid));
        // Same jobs, same thread count: a reused child must give the same bytes and scores.
        if (cold.hashes.join() !== warm.hashes.join()) throw new Error('cold and warm runs of the same jobs gave different checkpoints');
        if (cold.record !== warm.record) throw new Error('cold and warm runs of the same phase gave different records');
      } finally {
        await executor.close();
      }
      // A run's first phase as runSms has it: the children were started and loaded the data (prepare) while the dense model trained.
      const fresh = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1 });
      try {
        await fresh.prepare(config);
        const prepared = await timeIt(fresh, `prepared-${r}`);
        if (prepared.record !== times.cold[r].record) throw new Error('a prepared pool gave another phase record');
        times.prepared.push(prepared);
      } finally {
        await fresh.close();
      }
      if (args.before) {
        const before = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1 });
        try {
          times.coldBefore.push(await timeIt(before, `cold-before-${r}`, undefined, true));
          times.warmBefore.push(await timeIt(before, `warm-before-${r}`, undefined, true));
          for (const pid of before.pids()) childPeakRssBeforeMb.push(peakRssMb(pid));
        } finally {
          await before.close();
        }
      }
    }
    /** Median over the repeats of each stage's seconds, summed over the phase's jobs. */
    const medianStages = (xs: PhaseTime[]): RetrainStages =>
      Object.fromEntries(STAGES.map((k) => [k, xs.length ? median(xs.map((x) => x.stages[k])) : NaN])) as unknown as RetrainStages;
    const med = (mode: Mode, key: 'seconds' | 'retrainSeconds' | 'mergeSeconds'): number => median(times[mode].map((t) => t[key]));

    const inline = med('inline', 'seconds');
    const rows: [string, string, Mode][] = [
      ['inline, sequential', '1 × 2 threads', 'inline'],
      ['inline, sequential', '1 × 1 thread', 'inline1'],
      ['processes, cold (children start with the phase)', '2 × 1 thread', 'cold'],
      ['processes, first phase (children prepared during dense training)', '2 × 1 thread', 'prepared'],
      ['processes, warm (later phases)', '2 × 1 thread', 'warm'],
      ['processes before #15, cold', '2 × 1 thread', 'coldBefore'],
      ['processes before #15, warm', '2 × 1 thread', 'warmBefore'],
    ];
    const loadAfter = loadavg();
    console.log(
      `# ${m} candidates, convnet, ${images} Fashion-MNIST images, ${epochs} epoch(s), batch 128; ${retrainOnly ? 'retrains only' : 'retrains and merge'}; ` +
        `libtorch ${libtorchVersion()}, ${cpus().length} cores; median of ${repeats}; ` +
        `load average before ${loadBefore[0].toFixed(2)}, after ${loadAfter[0].toFixed(2)}`,
    );
    console.log('| mode | workers × threads | phase s | retrains s | merge s | candidates/min | speedup |');
    console.log('|---|---|---:|---:|---:|---:|---:|');
    for (const [mode, layout, key] of rows) {
      if (!times[key].length) continue;
      const wall = med(key, 'seconds');
      console.log(
        `| ${mode} | ${layout} | ${wall.toFixed(2)} | ${med(key, 'retrainSeconds').toFixed(2)} | ${med(key, 'mergeSeconds').toFixed(2)} | ${((60 * m) / wall).toFixed(1)} | ${(inline / wall).toFixed(2)}× |`,
      );
    }
    console.log(
      `\nJob stages, s, summed over the ${m} jobs (median of ${repeats}); with 2 children the retrains' wall is about half the sum:`,
    );
    console.log(`| mode | ${STAGES.join(' | ')} | sum |`);
    console.log(`|---|${STAGES.map(() => '---:').join('|')}|---:|`);
    for (const [, layout, key] of rows) {
      if (!times[key].length) continue;
      const st = medianStages(times[key]);
      console.log(
        `| ${key} (${layout}) | ${STAGES.map((k) => st[k].toFixed(2)).join(' | ')} | ${STAGES.reduce((a, k) => a + st[k], 0).toFixed(2)} |`,
      );
    }
    console.log(
      `\nchild start (fork to ready), s: median ${median(childStartSeconds).toFixed(2)}; child peak RSS, MiB: median ${median(childPeakRssMb).toFixed(0)}, max ${Math.max(...childPeakRssMb).toFixed(0)}${childPeakRssBeforeMb.length ? ` (before #15: median ${median(childPeakRssBeforeMb).toFixed(0)}, max ${Math.max(...childPeakRssBeforeMb).toFixed(0)})` : ''}; this process: ${peakRssMb(process.pid).toFixed(0)}`,
    );
    const secondsOf = (mode: Mode) => ({
      phase: times[mode].map((t) => t.seconds),
      retrains: times[mode].map((t) => t.retrainSeconds),
      merge: times[mode].map((t) => t.mergeSeconds),
    });
    console.log(
      JSON.stringify({
        bench: 'parallel-candidates',
        candidates: m,
        images,
        epochs,
        retrainOnly,
        cores: cpus().length,
        repeats,
        loadAverage: { before: loadBefore[0], after: loadAfter[0] },
        seconds: Object.fromEntries(modes.filter((k) => times[k].length).map((k) => [k, secondsOf(k)])),
        stages: Object.fromEntries(modes.filter((k) => times[k].length).map((k) => [k, medianStages(times[k])])),
        childStartSeconds,
        childPeakRssMb,
        ...(childPeakRssBeforeMb.length && { childPeakRssBeforeMb }),
        speedupCold: inline / med('cold', 'seconds'),
        speedupPrepared: inline / med('prepared', 'seconds'),
        speedupWarm: inline / med('warm', 'seconds'),
        ...(args.before && {
          speedupColdBefore: inline / med('coldBefore', 'seconds'),
          speedupWarmBefore: inline / med('warmBefore', 'seconds'),
        }),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
