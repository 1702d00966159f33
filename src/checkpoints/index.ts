/**
 * Checkpoint files: state dicts as safetensors (PyTorch reads them), with a
 * SHA-256 sidecar; the model description in a file's metadata; the compact
 * sparse format and dense or sparse export.
 *
 * @example
 * import { saveCheckpoint, loadCheckpoint } from 'sparse-soups/checkpoints';
 * const ref = await saveCheckpoint('soup.safetensors', model.stateDict());
 * model.loadStateDict(await loadCheckpoint(ref)); // checksum verified first
 */
export { saveStateDict, loadStateDictFile, toSafeTensor, fromSafeTensor } from './state-dict.js';
export type { StateDict } from './state-dict.js';
export { saveCheckpoint, loadCheckpoint, recordChecksum, verifiedCheckpoint } from './store.js';
export type { CheckpointRef } from './store.js';
export * from './model-description.js';
export * from './sparse-format.js';
