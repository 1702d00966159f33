/**
 * Parallel candidates: one SMS phase of m retrain jobs (ConvNet on a
 * Fashion-MNIST subset, from a 50%-pruned parent), run
 *   (a) inline, one job after another, with 2 libtorch threads, and
 *   (b) by ProcessExecutor with 2 child processes of 1 thread each,
 *       cold (process start and data loading included: a run's first phase)
 *       and warm (the same pool again: every later phase).
 *
 *   node --import tsx bench/parallel.bench.ts [--candidates 4] [--images 4096] [--epochs 1] [--repeats 1]
 *
 * Prints a table and a final JSON line with wall times and speedups
 * (inline wall / processes wall). Cold and warm runs of the same jobs must
 * give the same checkpoint bytes (a reused child carries no state over).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setNumThreads, libtorchVersion } from '../src/tensor/index.js';
import { parseSmsConfig } from '../src/sms/config.js';
import { candidateSpecs } from '../src/sms/candidates.js';
import { buildModel, experimentData } from '../src/sms/context.js';
import { InlineExecutor, type RetrainExecutor } from '../src/sms/executor.js';
import { pruneCheckpoint } from '../src/sms/masks.js';
import type { RetrainJob, RetrainStages } from '../src/sms/retrain.js';
import { saveCheckpoint } from '../src/checkpoints/store.js';
import { ProcessExecutor } from '../src/exec/process-executor.js';

const { values: args } = parseArgs({
  options: {
    candidates: { type: 'string', default: '4' },
    images: { type: 'string', default: '4096' },
    epochs: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '1' },
    /** Also time the inline phase at 1 thread: how much a second thread helps one job. */
    'inline-1': { type: 'boolean', default: false },
  },
});
const m = Number(args.candidates);
const images = Number(args.images);
const epochs = Number(args.epochs);
const repeats = Number(args.repeats);

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
const STAGES: Stage[] = ['data', 'load', 'train', 'validation', 'save'];

/** Wall seconds of one phase, its candidates' checkpoint hashes, and the jobs' stage seconds summed over the jobs. */
async function timePhase(executor: RetrainExecutor, jobs: RetrainJob[]): Promise<{ seconds: number; hashes: string[]; stages: RetrainStages }> {
  const t0 = performance.now();
  const results = await executor.run(jobs);
  if (results.some((r) => r.reused)) throw new Error(`${executor.name}: a job was reused, not run`);
  const stages = { data: 0, load: 0, train: 0, validation: 0, save: 0 };
  for (const r of results) for (const k of STAGES) stages[k] += r.stages?.[k] ?? 0;
  return { seconds: (performance.now() - t0) / 1000, hashes: results.map((r) => r.checkpoint.sha256), stages };
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
    const { mask } = await pruneCheckpoint(config, parent, null, 0.5, 1, join(dir, 'mask.safetensors'));
    // Fresh output paths every time: executors skip a job whose verified result exists.
    const jobs = (tag: string, threads?: number): RetrainJob[] =>
      candidateSpecs(config).map((spec) => ({
        config,
        phase: 1,
        spec,
        kind: 'sms' as const,
        parent,
        mask,
        output: join(dir, `${tag}-${spec.index}.safetensors`),
        threads,
      }));

    const times = { inline: [] as number[], inline1: [] as number[], cold: [] as number[], warm: [] as number[] };
    const stages: Record<keyof typeof times, RetrainStages[]> = { inline: [], inline1: [], cold: [], warm: [] };
    const childStartSeconds: number[] = [];
    const childPeakRssMb: number[] = [];
    for (let r = 0; r < repeats; r++) {
      setNumThreads(2);
      const inlinePhase = await timePhase(new InlineExecutor(), jobs(`inline-${r}`, 2));
      times.inline.push(inlinePhase.seconds);
      stages.inline.push(inlinePhase.stages);
      if (args['inline-1']) {
        setNumThreads(1);
        const one = await timePhase(new InlineExecutor(), jobs(`inline1-${r}`, 1));
        times.inline1.push(one.seconds);
        stages.inline1.push(one.stages);
      }
      const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, onWorkerReady: (_, s) => childStartSeconds.push(s) });
      try {
        const cold = await timePhase(executor, jobs(`cold-${r}`));
        const warm = await timePhase(executor, jobs(`warm-${r}`));
        times.cold.push(cold.seconds);
        times.warm.push(warm.seconds);
        stages.cold.push(cold.stages);
        stages.warm.push(warm.stages);
        for (const pid of executor.pids()) childPeakRssMb.push(peakRssMb(pid));
        // Same jobs, same thread count: a reused child must give the same bytes.
        if (cold.hashes.join() !== warm.hashes.join()) throw new Error('cold and warm runs of the same jobs gave different checkpoints');
      } finally {
        await executor.close();
      }
    }
    /** Median over the repeats of each stage's seconds, summed over the phase's jobs. */
    const medianStages = (xs: RetrainStages[]): RetrainStages =>
      Object.fromEntries(STAGES.map((k) => [k, xs.length ? median(xs.map((x) => x[k])) : NaN])) as unknown as RetrainStages;

    const inline = median(times.inline);
    const cold = median(times.cold);
    const warm = median(times.warm);
    const rows: [string, string, number, number][] = [
      ['inline, sequential', '1 × 2 threads', inline, 1],
      ...(times.inline1.length ? [['inline, sequential', '1 × 1 thread', median(times.inline1), inline / median(times.inline1)] as [string, string, number, number]] : []),
      ['processes, cold (first phase)', '2 × 1 thread', cold, inline / cold],
      ['processes, warm (later phases)', '2 × 1 thread', warm, inline / warm],
    ];
    const loadAfter = loadavg();
    console.log(
      `# ${m} candidates, convnet, ${images} Fashion-MNIST images, ${epochs} epoch(s), batch 128; ` +
        `libtorch ${libtorchVersion()}, ${cpus().length} cores; median of ${repeats}; ` +
        `load average before ${loadBefore[0].toFixed(2)}, after ${loadAfter[0].toFixed(2)}`,
    );
    console.log('| mode | workers × threads | wall s | candidates/min | speedup |');
    console.log('|---|---|---:|---:|---:|');
    for (const [mode, layout, wall, speedup] of rows) {
      console.log(`| ${mode} | ${layout} | ${wall.toFixed(2)} | ${((60 * m) / wall).toFixed(1)} | ${speedup.toFixed(2)}× |`);
    }
    console.log(`\nJob stages, s, summed over the ${m} jobs (median of ${repeats}); a process phase's wall is about its sum / 2 plus what is outside the jobs:`);
    console.log(`| mode | ${STAGES.join(' | ')} | sum | phase wall |`);
    console.log(`|---|${STAGES.map(() => '---:').join('|')}|---:|---:|`);
    for (const [mode, key] of [['inline 2 threads', 'inline'], ['inline 1 thread', 'inline1'], ['processes cold', 'cold'], ['processes warm', 'warm']] as const) {
      if (!times[key].length) continue;
      const st = medianStages(stages[key]);
      const sum = STAGES.reduce((a, k) => a + st[k], 0);
      console.log(`| ${mode} | ${STAGES.map((k) => st[k].toFixed(2)).join(' | ')} | ${sum.toFixed(2)} | ${median(times[key]).toFixed(2)} |`);
    }
    console.log(`child start (fork to ready), s: median ${median(childStartSeconds).toFixed(2)}; child peak RSS, MB: median ${median(childPeakRssMb).toFixed(0)}, max ${Math.max(...childPeakRssMb).toFixed(0)}; this process: ${peakRssMb(process.pid).toFixed(0)}`);
    console.log(
      JSON.stringify({
        bench: 'parallel-candidates',
        candidates: m,
        images,
        epochs,
        cores: cpus().length,
        repeats,
        loadAverage: { before: loadBefore[0], after: loadAfter[0] },
        inlineSeconds: times.inline,
        processesColdSeconds: times.cold,
        processesWarmSeconds: times.warm,
        ...(times.inline1.length && { inline1ThreadSeconds: times.inline1 }),
        stages: Object.fromEntries(Object.entries(stages).filter(([, v]) => v.length).map(([k, v]) => [k, medianStages(v)])),
        childStartSeconds,
        childPeakRssMb,
        speedupCold: inline / cold,
        speedupWarm: inline / warm,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
