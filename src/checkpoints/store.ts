/**
 * Checkpoint files of an SMS run: safetensors state dicts with a SHA-256
 * sidecar, so a half-written or corrupted file is detected and recomputed,
 * never loaded.
 */
import { saveStateDict, loadStateDictFile, type StateDict } from './state-dict.js';
import { recordChecksum, type CheckpointRef } from './checksum.js';
import { sha256OfFile } from '../io/atomic.js';
import { CheckpointError } from '../util/errors.js';

export { recordChecksum, verifiedCheckpoint, type CheckpointRef } from './checksum.js';

/** Saves a state dict atomically and records its checksum beside it (`<path>.sha256.json`). */
export async function saveCheckpoint(path: string, state: StateDict, metadata: Record<string, string> = {}): Promise<CheckpointRef> {
  await saveStateDict(path, state, metadata);
  return recordChecksum(path);
}

/** Where `loadCheckpoint` puts the tensors. */
export interface LoadCheckpointOptions {
  /** Device of the loaded tensors (default cpu). */
  device?: string;
}

/** Loads a checkpoint onto `opts.device` (default cpu), refusing one whose checksum differs from the ref's (when a ref is given). */
export async function loadCheckpoint(ref: CheckpointRef | string, opts: LoadCheckpointOptions = {}): Promise<StateDict> {
  const path = typeof ref === 'string' ? ref : ref.path;
  if (typeof ref !== 'string') {
    const actual = await sha256OfFile(path);
    if (actual !== ref.sha256)
      throw new CheckpointError(
        `${path}: checksum ${actual.slice(0, 12)}… does not match the recorded ${ref.sha256.slice(0, 12)}… (file corrupted or replaced)`,
      );
  }
  return (await loadStateDictFile(path, opts)).state;
}
