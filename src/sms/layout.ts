/**
 * The names of every file in a run directory, in one place. Everything that
 * reads or writes a run (the pipeline, executors, status, report, export)
 * asks here instead of spelling a file name.
 *
 *   <run>/config.json                      normalized config (run/)
 *   <run>/events.jsonl                     append-only event log (run/)
 *   <run>/run.lock                         held while a process uses the run (run/)
 *   <run>/dense.safetensors                the dense parent (or the initialization, GMP variant)
 *   <run>/phase-<p>/mask.safetensors       the SMS mask of phase p
 *   <run>/phase-<p>/candidate-<i>.safetensors
 *   <run>/phase-<p>/imp-<i>-mask.safetensors, imp-<i>.safetensors        IMP chain i (phase > 1)
 *   <run>/phase-<p>/imp-longer-mask.safetensors, imp-longer.safetensors  IMP m× longer
 *   <run>/phase-<p>/soup-uniform.safetensors, soup-greedy.safetensors
 *   <run>/phase-<p>/phase-result.json      the merge step's record (reused on resume)
 *   <run>/results.json, results.csv, report.html
 *
 * Beside each checkpoint: `<file>.sha256.json` (checkpoints/store.ts) and,
 * for retrained ones, `<file>.result.json` (the retrain result record) and,
 * when the job scored its own model (RetrainJob.score: the process
 * executor's jobs), `<file>.predictions.safetensors` (its test and OOD class
 * probabilities, for the merge step's ensemble).
 *
 * @example
 * const run = runLayout('runs/quick-1a2b3c');
 * run.candidate(2, 0); // 'runs/quick-1a2b3c/phase-2/candidate-0.safetensors'
 */
import { join } from 'node:path';

/** The soups a phase writes. */
export type SoupMethod = 'uniform' | 'greedy';

/** The path of every file of a run directory (see the table above); phases are 1-based, candidates and chains 0-based. */
export interface RunLayout {
  /** The run directory itself. */
  readonly root: string;
  readonly config: string;
  readonly events: string;
  readonly lock: string;
  readonly dense: string;
  readonly results: string;
  readonly resultsCsv: string;
  readonly report: string;
  phaseDir(phase: number): string;
  mask(phase: number): string;
  candidate(phase: number, index: number): string;
  impMask(phase: number, chain: number): string;
  imp(phase: number, chain: number): string;
  impLongerMask(phase: number): string;
  impLonger(phase: number): string;
  soup(phase: number, method: SoupMethod): string;
  phaseResult(phase: number): string;
}

/** The files of the run directory `root`, and of the phase directories inside it. */
export function runLayout(root: string): RunLayout {
  const phaseDir = (p: number): string => join(root, `phase-${p}`);
  return {
    root,
    config: join(root, 'config.json'),
    events: join(root, 'events.jsonl'),
    lock: join(root, 'run.lock'),
    dense: join(root, 'dense.safetensors'),
    results: join(root, 'results.json'),
    resultsCsv: join(root, 'results.csv'),
    report: join(root, 'report.html'),
    phaseDir,
    mask: (p) => join(phaseDir(p), 'mask.safetensors'),
    candidate: (p, i) => join(phaseDir(p), `candidate-${i}.safetensors`),
    impMask: (p, i) => join(phaseDir(p), `imp-${i}-mask.safetensors`),
    imp: (p, i) => join(phaseDir(p), `imp-${i}.safetensors`),
    impLongerMask: (p) => join(phaseDir(p), 'imp-longer-mask.safetensors'),
    impLonger: (p) => join(phaseDir(p), 'imp-longer.safetensors'),
    soup: (p, method) => join(phaseDir(p), `soup-${method}.safetensors`),
    phaseResult: (p) => join(phaseDir(p), 'phase-result.json'),
  };
}

/** The retrain result record kept beside a retrained checkpoint. */
export function retrainResultFileOf(checkpoint: string): string {
  return `${checkpoint}.result.json`;
}

/** The class probabilities a retrain job that scored its model keeps beside the checkpoint. */
export function retrainPredictionsFileOf(checkpoint: string): string {
  return `${checkpoint}.predictions.safetensors`;
}
