/** Errors of the queue executor and its workers. */
import { SparseSoupsError } from '../../util/errors.js';

/** An artifact is missing or its bytes do not match the checksum the job carries. */
export class ArtifactError extends SparseSoupsError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** A queue job failed after all its attempts; `jobId` is its BullMQ id, `reason` the last attempt's error. */
export class QueueJobFailedError extends SparseSoupsError {
  constructor(
    readonly jobId: string,
    readonly what: string,
    readonly attempts: number,
    readonly reason: string,
  ) {
    super(`queue job ${jobId} (${what}) failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}`);
  }
}
