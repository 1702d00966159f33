/**
 * The pure parts of bench/sms.bench.ts (the end-to-end comparison of
 * `sparse-soups run configs/fashion-mnist-quick.yaml` with the PyTorch peer
 * bench/peer/sms_quick.py): its options, the commands it runs, reading
 * `/usr/bin/time -v`, the per-side time breakdown, the table and the final
 * JSON line. No I/O here, so test/bench/sms-bench.test.ts checks it without
 * running anything.
 */
import { parseArgs } from 'node:util';

/** How the sparse-soups side runs: the CLI's default executor (no flag), or the one named. */
export type NodeVariant = 'default' | 'inline' | 'processes';
const VARIANTS: readonly NodeVariant[] = ['default', 'inline', 'processes'];

export interface SmsBenchOptions {
  /** Threads for each side: libtorch's pool, OpenMP and OpenBLAS (processes: the number of 1-thread workers). */
  threads: number;
  /** The sparse-soups runs, in order (the first is the one the ratio is about). */
  variants: NodeVariant[];
  /** Run the PyTorch peer. */
  peer: boolean;
  /** Measure the peer before the sparse-soups runs instead of after the first one. */
  peerFirst: boolean;
  config: string;
  python: string;
  /** Keep the run directories (default: deleted after reading them). */
  keep: boolean;
  /** A tiny version of the workload on both sides (1,024 training and 500 test images, 200 per OOD set, 1 epoch each), to check the harness. */
  smoke: boolean;
  /** Build dist/ first (tsc), so the sparse-soups side runs the compiled command as an installed package does. */
  build: boolean;
  /** Interval of the /proc RSS sampler, ms. */
  sampleMs: number;
}

const USAGE =
  'node --import tsx bench/sms.bench.ts [--threads 2] [--variants default[,inline|processes]] [--no-peer] [--peer-first] ' +
  '[--config configs/fashion-mnist-quick.yaml] [--python /usr/bin/python3] [--keep] [--smoke] [--no-build] [--sample-ms 200]';

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got '${text}'\nusage: ${USAGE}`);
  return n;
}

/** The options of `bench/sms.bench.ts` from its arguments (Error with the usage line for a bad one). */
export function parseSmsBenchArgs(argv: string[]): SmsBenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      threads: { type: 'string', default: '2' },
      variants: { type: 'string', default: 'default' },
      'no-peer': { type: 'boolean', default: false },
      'peer-first': { type: 'boolean', default: false },
      config: { type: 'string', default: 'configs/fashion-mnist-quick.yaml' },
      python: { type: 'string', default: '/usr/bin/python3' },
      keep: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'sample-ms': { type: 'string', default: '200' },
    },
  });
  const variants = values.variants
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  for (const v of variants) {
    if (!VARIANTS.includes(v as NodeVariant)) throw new Error(`--variants: '${v}' is not one of ${VARIANTS.join(', ')}\nusage: ${USAGE}`);
  }
  if (variants.length === 0 && values['no-peer']) throw new Error(`nothing to run: no --variants and --no-peer\nusage: ${USAGE}`);
  return {
    threads: positiveInt('threads', values.threads),
    variants: variants as NodeVariant[],
    peer: !values['no-peer'],
    peerFirst: values['peer-first'],
    config: values.config,
    python: values.python,
    keep: values.keep,
    smoke: values.smoke,
    build: !values['no-build'],
    sampleMs: positiveInt('sample-ms', values['sample-ms']),
  };
}

/** --smoke: the sizes both sides shrink to (the PyTorch flags and the config keys that say the same). */
export const SMOKE = { trainSubset: 1024, testSubset: 500, oodSubset: 200, denseEpochs: 1, retrainEpochs: 1 } as const;

/** The quick config with SMOKE's sizes (a parsed YAML object; other keys kept). */
export function smokeConfig(config: Record<string, unknown>): Record<string, unknown> {
  const section = (k: string): Record<string, unknown> => ({ ...((config[k] as Record<string, unknown> | undefined) ?? {}) });
  return {
    ...config,
    name: `${String(config.name ?? 'sms')}-smoke`,
    data: { ...section('data'), trainSubset: SMOKE.trainSubset, testSubset: SMOKE.testSubset },
    evaluation: { ...section('evaluation'), oodSubset: SMOKE.oodSubset },
    dense: { ...section('dense'), epochs: SMOKE.denseEpochs },
    retrain: { ...section('retrain'), epochs: SMOKE.retrainEpochs },
  };
}

/** The label of a sparse-soups run in the table. */
export function variantLabel(variant: NodeVariant, defaultExecutor = 'inline'): string {
  return variant === 'default' ? `sparse-soups (default: ${defaultExecutor})` : `sparse-soups (${variant})`;
}

/**
 * Arguments of `node` for one sparse-soups run (`cli`: the entry, with any
 * loader flags before it) into the fresh
 * directory `out`. `processes` runs `threads` workers of one thread each and
 * leaves the coordinating process (merges, scoring) at the CLI's default
 * of all cores, since `--threads` would set both; see `processesNote`.
 */
export function nodeRunArgs(cli: string[], config: string, out: string, variant: NodeVariant, threads: number, cores: number): string[] {
  const args = [...cli, 'run', config, '--out', out];
  if (variant === 'processes') return [...args, '--executor', 'processes', '--workers', String(threads)];
  if (variant === 'inline') return [...args, '--executor', 'inline', '--threads', String(threads)];
  // The default as a user gets it: with threads = cores, no flag, so the auto
  // executor gives each of its workers its share of the cores (the CLI's
  // --threads would give every worker all of them).
  return threads === cores ? args : [...args, '--threads', String(threads)];
}

/** Why the processes variant may not be the same thread count as the others, or null when it is. */
export function processesNote(threads: number, cores: number): string | null {
  return threads === cores
    ? null
    : `processes: ${threads} workers × 1 thread, but the coordinating process uses all ${cores} cores (the CLI's --threads would set the workers too)`;
}

/** Arguments of the python interpreter for the peer. */
export function peerArgs(script: string, out: string, threads: number, smoke: boolean): string[] {
  const args = [script, '--threads', String(threads), '--out', out];
  if (smoke)
    args.push(
      '--train-subset',
      String(SMOKE.trainSubset),
      '--test-subset',
      String(SMOKE.testSubset),
      '--ood-subset',
      String(SMOKE.oodSubset),
      '--dense-epochs',
      String(SMOKE.denseEpochs),
      '--retrain-epochs',
      String(SMOKE.retrainEpochs),
    );
  return args;
}

/** The environment both sides run with: every thread pool at `threads`. */
export function threadEnv(threads: number): Record<string, string> {
  const t = String(threads);
  return { OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
}

/** What `/usr/bin/time -v` reports about the command it ran (its largest process, for RSS). */
export interface TimeVerbose {
  /** Maximum resident set size of the largest single process of the tree (getrusage), KiB. */
  maxRssKiB: number;
  userSeconds: number;
  systemSeconds: number;
  /** Percent of a CPU the command got (user + system / wall). */
  cpuPercent: number | null;
  exitStatus: number | null;
}

/** Parses GNU time's `-v` report; null when it is not one. */
export function parseTimeVerbose(text: string): TimeVerbose | null {
  const field = (label: string): string | null => {
    const m = new RegExp(`^\\s*${label.replace(/[()]/g, '\\$&')}:\\s*(.+)$`, 'm').exec(text);
    return m ? m[1].trim() : null;
  };
  const rss = field('Maximum resident set size (kbytes)');
  const user = field('User time (seconds)');
  const sys = field('System time (seconds)');
  if (rss === null || user === null || sys === null) return null;
  const cpu = field('Percent of CPU this job got');
  const exit = field('Exit status');
  return {
    maxRssKiB: Number(rss),
    userSeconds: Number(user),
    systemSeconds: Number(sys),
    cpuPercent: cpu === null ? null : Number(cpu.replace('%', '')),
    exitStatus: exit === null ? null : Number(exit),
  };
}

/** A milestone of a run: its name and wall-clock time (ms since the epoch). */
export interface Mark {
  name: string;
  timeMs: number;
}

/** The milestones of a sparse-soups run from its events.jsonl: dense-start, dense-done, phase-<p>-done, run-done. */
export function marksFromEvents(eventsJsonl: string): Mark[] {
  const marks: Mark[] = [];
  let phase1: number | undefined;
  for (const line of eventsJsonl.split('\n')) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as { time: string; type: string; phase?: number };
    const timeMs = Date.parse(e.time);
    if (e.type === 'dense-start' || e.type === 'dense-done' || e.type === 'run-done') marks.push({ name: e.type, timeMs });
    else if (e.type === 'phase-done') marks.push({ name: `phase-${e.phase}-done`, timeMs });
    else if (e.type === 'phase-start' && e.phase === 1) phase1 = timeMs;
  }
  // An executor that scores the dense model while phase 1 retrains reports dense-done during phase 1: the dense stage ends where phase 1 starts.
  const denseDone = marks.find((m) => m.name === 'dense-done');
  if (denseDone !== undefined && phase1 !== undefined && phase1 < denseDone.timeMs) denseDone.timeMs = phase1;
  return marks;
}

/** The peer's milestones (its JSON line's `marks`: Unix seconds by name). */
export function marksFromPeer(marks: Record<string, number>): Mark[] {
  return Object.entries(marks).map(([name, t]) => ({ name, timeMs: t * 1000 }));
}

/**
 * Wall seconds per stage from the milestones: `setup` (process start to
 * dense training: interpreter, imports, data, validation), `dense` (training
 * and scoring it), `phase p` (pruning, retraining, merging and scoring of
 * phase p), `finish` (after the last phase to exit: results, report).
 */
export function stageSeconds(startMs: number, endMs: number, marks: Mark[]): Record<string, number> {
  const at = new Map(marks.map((m) => [m.name, m.timeMs]));
  const stages: Record<string, number> = {};
  let prev = startMs;
  const step = (label: string, name: string): void => {
    const t = at.get(name);
    if (t === undefined) return;
    stages[label] = (t - prev) / 1000;
    prev = t;
  };
  step('setup', 'dense-start');
  step('dense', 'dense-done');
  for (let p = 1; at.has(`phase-${p}-done`); p++) step(`phase ${p}`, `phase-${p}-done`);
  stages.finish = (endMs - prev) / 1000;
  return stages;
}

/** One side's measurement. */
export interface SideResult {
  label: string;
  side: 'sparse-soups' | 'pytorch';
  /** The command as run (for the record). */
  command: string;
  exitCode: number;
  wallSeconds: number;
  /** Peak of the summed RSS of the whole process tree, sampled from /proc, MiB. */
  peakTreeRssMiB: number | null;
  /** Peak RSS of the largest single process (GNU time), MiB. */
  maxProcessRssMiB: number | null;
  /** CPU seconds, user + system, of the tree (GNU time). */
  cpuSeconds: number | null;
  /** 1-minute load average when the side started and ended, and the mean of one sample every 5 s while it ran. */
  load: { before: number; after: number; mean: number };
  stages: Record<string, number>;
  /** Seconds inside the retraining loops (sparse-soups: the result records' `seconds`; PyTorch: its `retraining` clock). */
  retrainLoopSeconds: number | null;
  accuracy: { dense: number; uniformSoup: number; greedySoup: number; impMean: number; sparsity: number } | null;
}

const fmt = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);

/** The table: one row per side, wall time, stages, memory, CPU and final accuracies. */
export function formatTable(rows: SideResult[]): string {
  const stageNames = [...new Set(rows.flatMap((r) => Object.keys(r.stages)))];
  const head = [
    'side',
    'wall s',
    ...stageNames.map((s) => `${s} s`),
    'retrain loops s',
    'CPU s',
    'peak RSS tree MiB',
    'max RSS 1 proc MiB',
    'load mean (start→end)',
    'soup acc %',
    'IMP mean %',
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `| --- | ${head
      .slice(1)
      .map(() => '---:')
      .join(' | ')} |`,
  ];
  for (const r of rows) {
    const cells = [
      r.label,
      fmt(r.wallSeconds),
      ...stageNames.map((s) => fmt(r.stages[s])),
      fmt(r.retrainLoopSeconds),
      fmt(r.cpuSeconds),
      fmt(r.peakTreeRssMiB, 0),
      fmt(r.maxProcessRssMiB, 0),
      `${r.load.mean.toFixed(2)} (${r.load.before.toFixed(2)}→${r.load.after.toFixed(2)})`,
      r.accuracy ? fmt(r.accuracy.uniformSoup * 100, 2) : 'n/a',
      r.accuracy ? fmt(r.accuracy.impMean * 100, 2) : 'n/a',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface SmsBenchSummary {
  bench: 'sms-quick';
  config: string;
  smoke: boolean;
  commit: string;
  threads: number;
  cores: number;
  /** sparse-soups wall ÷ PyTorch wall for the first sparse-soups run (< 1: sparse-soups faster); null without both. */
  wallRatio: number | null;
  /** The same for every sparse-soups run, by label. */
  wallRatios: Record<string, number>;
  /** The target for wallRatio. */
  target: number;
  wallSeconds: Record<string, number>;
  peakTreeRssMiB: Record<string, number | null>;
  maxProcessRssMiB: Record<string, number | null>;
  notes: string[];
  rows: SideResult[];
}

/** The final JSON line: ratios against the PyTorch row, wall times and memory by label. */
export function summarize(
  rows: SideResult[],
  meta: { config: string; smoke: boolean; commit: string; threads: number; cores: number; notes?: string[] },
): SmsBenchSummary {
  const peer = rows.find((r) => r.side === 'pytorch' && r.exitCode === 0);
  const ours = rows.filter((r) => r.side === 'sparse-soups' && r.exitCode === 0);
  const round = (x: number, d = 3): number => Number(x.toFixed(d));
  const wallRatios: Record<string, number> = {};
  if (peer) for (const r of ours) wallRatios[r.label] = round(r.wallSeconds / peer.wallSeconds);
  const byLabel = <T>(f: (r: SideResult) => T): Record<string, T> => Object.fromEntries(rows.map((r) => [r.label, f(r)]));
  return {
    bench: 'sms-quick',
    config: meta.config,
    smoke: meta.smoke,
    commit: meta.commit,
    threads: meta.threads,
    cores: meta.cores,
    wallRatio: peer && ours.length > 0 ? round(ours[0].wallSeconds / peer.wallSeconds) : null,
    wallRatios,
    target: 0.5,
    wallSeconds: byLabel((r) => round(r.wallSeconds, 1)),
    peakTreeRssMiB: byLabel((r) => (r.peakTreeRssMiB === null ? null : Math.round(r.peakTreeRssMiB))),
    maxProcessRssMiB: byLabel((r) => (r.maxProcessRssMiB === null ? null : Math.round(r.maxProcessRssMiB))),
    notes: meta.notes ?? [],
    rows,
  };
}
