/**
 * Typed errors. Each says what was wrong, where (file, config path, tensor
 * name) and, where there is one, how to fix it.
 */
export class SparseSoupsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A data file (dataset, NPY, IDX, safetensors) is missing, truncated or malformed. */
export class DataFormatError extends SparseSoupsError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A configuration value is invalid; `path` is the dotted config path. */
export class ConfigError extends SparseSoupsError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** Tensor shapes, dtypes or devices that do not fit an operation. */
export class TensorError extends SparseSoupsError {}

/** A checkpoint or state dict that does not match the model or is corrupted. */
export class CheckpointError extends SparseSoupsError {}

/**
 * A model's definition does not hold together: a member name that is empty,
 * contains '.' or is already taken; layer hyperparameters that do not fit
 * each other (channels not divisible by groups, dropout p outside [0, 1]);
 * a layer index the model does not have.
 */
export class ModelDefinitionError extends SparseSoupsError {}

/**
 * A user's model module (config `model.module`) cannot be loaded or does not
 * build a Module: the file is missing or is not an ES module, the export is
 * missing or is neither a Module subclass nor a factory, or building the
 * model threw (`cause` holds the original error). `file` is the module's
 * path, `exportName` the export the config names.
 */
export class UserModelError extends SparseSoupsError {
  constructor(
    readonly file: string,
    readonly exportName: string,
    readonly problem: string,
    cause?: unknown,
  ) {
    super(`model.module ${file} (export '${exportName}'): ${problem}`);
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * A model cannot be exported to ONNX: `modulePath` is the dotted path of the
 * module in the model ('' for the model itself), `moduleClass` its class.
 */
export class OnnxExportError extends SparseSoupsError {
  constructor(
    readonly modulePath: string,
    readonly moduleClass: string,
    readonly problem: string,
  ) {
    super(`cannot export ${modulePath === '' ? 'the model' : `'${modulePath}'`} (${moduleClass}) to ONNX: ${problem}`);
  }
}

/** Training produced a non-finite loss; `epoch` and `step` say where, `lr` is the learning rate of that step. */
export class TrainingDivergedError extends SparseSoupsError {
  constructor(
    readonly loss: number,
    readonly epoch: number,
    readonly step: number,
    readonly lr: number,
  ) {
    super(`training diverged: loss is ${loss} at epoch ${epoch}, step ${step} (lr ${lr}); lower the learning rate`);
  }
}

/** Candidates that cannot be merged (different masks, architectures). */
export class MergeError extends SparseSoupsError {}

/** A plot of the HTML report could not be compiled or rendered (a bug in a spec, not in the user's data). */
export class ReportRenderError extends SparseSoupsError {}

/**
 * Runs given to `compare` are not replicates of one experiment: their
 * configs differ in `key` (other than `seed`), or two are the same run.
 * `dirs` are the two run directories that disagree.
 */
export class NotReplicatesError extends SparseSoupsError {
  constructor(
    readonly key: string,
    readonly dirs: [string, string],
    problem: string,
  ) {
    super(`not replicates of one experiment: ${problem}`);
  }
}

/** A run-directory artifact is missing or its bytes do not match the checksum the job carries. */
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

/** An error thrown in another process, as it travels between processes. */
export interface SerializedError {
  /** The error's class name (TensorError, CheckpointError, ...). */
  name: string;
  message: string;
  stack?: string;
}

/** A retrain job threw inside its child process; `job` names the job ("phase 2, imp candidate 1"), `errorType` is the original error's class name. */
export class RetrainJobError extends SparseSoupsError {
  readonly errorType: string;
  readonly remoteStack: string | undefined;
  constructor(
    readonly job: string,
    error: SerializedError,
  ) {
    super(`${job}: ${error.name}: ${error.message}`);
    this.errorType = error.name;
    this.remoteStack = error.stack;
  }
}

/** A child process exited (crashed, was killed) while it ran the job named `job`. */
export class WorkerExitError extends SparseSoupsError {
  constructor(
    readonly job: string,
    readonly pid: number | undefined,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    stderrTail: string,
  ) {
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = stderrTail.trim() ? `; its last output:\n${stderrTail.trim()}` : '';
    super(`${job}: worker process ${pid ?? '(not started)'} ${how} while running the job${tail}`);
  }
}

/** A run directory is in use by another process (`file` is its lock file). */
export class RunLockedError extends SparseSoupsError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`run directory ${file.replace(/\/run\.lock$/, '')} is locked: ${problem}`);
  }
}
