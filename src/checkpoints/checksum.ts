/**
 * The SHA-256 sidecar of a checkpoint file (`<path>.sha256.json`): recorded
 * after a file is written, checked before it is trusted. No tensors here, so
 * reading where a run stands (`sparse-soups status`) does not load libtorch.
 */
import { existsSync } from 'node:fs';
import { sha256OfFile, writeJsonFileAtomic, readJsonFile } from '../io/atomic.js';

/** A checkpoint file and the SHA-256 (hex) of its bytes. */
export interface CheckpointRef {
  path: string;
  sha256: string;
}

/** Hashes a freshly written file and records the hash beside it (`<path>.sha256.json`). */
export async function recordChecksum(path: string): Promise<CheckpointRef> {
  const sha256 = await sha256OfFile(path);
  await writeJsonFileAtomic(`${path}.sha256.json`, { sha256 });
  return { path, sha256 };
}

/** The checkpoint at `path` if it exists and matches its recorded checksum, else null (never throws). */
export async function verifiedCheckpoint(path: string): Promise<CheckpointRef | null> {
  const sidecar = `${path}.sha256.json`;
  if (!existsSync(path) || !existsSync(sidecar)) return null;
  try {
    const recorded = (await readJsonFile(sidecar)) as { sha256?: unknown };
    const actual = await sha256OfFile(path);
    return recorded.sha256 === actual ? { path, sha256: actual } : null;
  } catch {
    return null;
  }
}
