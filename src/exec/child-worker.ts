/**
 * The child side of ProcessExecutor: a process forked with an IPC channel
 * that runs one retrain job at a time, through retrainCandidateOnce as the
 * inline executor does (a job whose verified result exists is not rerun).
 *
 *   parent → child   { type: 'job', id, job }        job.threads is always set
 *                    { type: 'score', id, task, threads }   score a checkpoint (the merge's pruned parent and soups),
 *                                                         or one part of its evaluation sets (task.part)
 *                    { type: 'prepare', id, config }     load the experiment's data and model module ahead of the first task
 *                    (disconnecting the channel ends the child)
 *   child → parent   { type: 'ready' }                   once its handlers are set up
 *                    { type: 'progress', id, progress }
 *                    { type: 'result', id, result }      a job's
 *                    { type: 'scored', id, scores }      a score task's (PartScores for a part)
 *                    { type: 'prepared', id }            the data is loaded
 *                    { type: 'error', id, error: { name, message, stack } }
 *
 * libtorch's thread count is set from job.threads before the job runs, so a
 * job gives the same weights here as inline with the same thread count. The
 * child exits when the parent disconnects (parent exited or was killed), so
 * no worker outlives the run.
 */
import { retrainCandidateOnce, type RetrainJob, type RetrainProgress, type RetrainResult } from '../sms/retrain.js';
import { runScorePart, runScoreTask, type PartScores, type ScoreTask, type TaskScores } from '../sms/scoring.js';
import { getNumThreads, setNumThreads } from '../tensor/create.js';
import type { SerializedError } from '../util/errors.js';
import type { SmsConfig } from '../sms/config.js';
import { experimentData, prepareExperimentData, prepareModel } from '../sms/context.js';

export type ParentMessage =
  | { type: 'job'; id: number; job: RetrainJob }
  | { type: 'score'; id: number; task: ScoreTask; threads: number }
  | { type: 'prepare'; id: number; config: SmsConfig };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; id: number; progress: RetrainProgress }
  | { type: 'result'; id: number; result: RetrainResult }
  | { type: 'scored'; id: number; scores: TaskScores | PartScores }
  | { type: 'prepared'; id: number }
  | { type: 'error'; id: number; error: SerializedError };

function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    // A failed send means the parent is gone; 'disconnect' ends this process.
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function runJob(id: number, job: RetrainJob): Promise<void> {
  try {
    const threads = job.threads && job.threads > 0 ? job.threads : getNumThreads();
    if (getNumThreads() !== threads) setNumThreads(threads);
    const result = await retrainCandidateOnce({ ...job, threads }, (progress) => void send({ type: 'progress', id, progress }));
    await send({ type: 'result', id, result });
  } catch (e) {
    await send({ type: 'error', id, error: serializeError(e) });
  }
}

async function runScore(id: number, task: ScoreTask, threads: number): Promise<void> {
  try {
    if (getNumThreads() !== threads) setNumThreads(threads);
    const { part } = task;
    const scores = part === undefined ? await runScoreTask(task) : await runScorePart({ ...task, part });
    await send({ type: 'scored', id, scores });
  } catch (e) {
    await send({ type: 'error', id, error: serializeError(e) });
  }
}

/** Loads what every task of `config` reads first (the dataset, its OOD sets, a user model module), so that the first task finds it here. */
async function runPrepare(id: number, config: SmsConfig): Promise<void> {
  try {
    await prepareExperimentData(config);
    experimentData(config).ood();
    await prepareModel(config);
    await send({ type: 'prepared', id });
  } catch (e) {
    await send({ type: 'error', id, error: serializeError(e) });
  }
}

if (!process.send) {
  process.stderr.write('child-worker: this is the ProcessExecutor worker; it must be started with child_process.fork\n');
  process.exit(2);
}

// Jobs run one after another even if the parent sends the next one early.
let queue: Promise<void> = Promise.resolve();
process.on('message', (message: ParentMessage) => {
  if (message.type === 'job') queue = queue.then(() => runJob(message.id, message.job));
  else if (message.type === 'score') queue = queue.then(() => runScore(message.id, message.task, message.threads));
  else if (message.type === 'prepare') queue = queue.then(() => runPrepare(message.id, message.config));
});
process.on('disconnect', () => process.exit(0));
// A parent that died while this child was still loading disconnected before the handler was there.
if (!process.connected) process.exit(0);
void send({ type: 'ready' });
