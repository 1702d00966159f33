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

/** Candidates that cannot be merged (different masks, architectures). */
export class MergeError extends SparseSoupsError {}
