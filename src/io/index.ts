/**
 * File I/O: safetensors checkpoints and durable run-state files.
 *
 * @example
 * import { saveSafetensors, loadSafetensors, writeJsonFileAtomic } from './io/index.js';
 */
export * from './atomic.js';
export * from './safetensors.js';
