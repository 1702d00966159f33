/**
 * Durable file I/O for run state: atomic replace, append-only event logs,
 * JSON reading that names the file, and file checksums.
 *
 * Atomic replace: the data goes to a temp file `.<base>.<pid>.<random>.tmp`
 * in the target's directory (same file system, so rename is atomic), the
 * temp file is fsynced, renamed over the target, and then the directory is
 * fsynced so that the rename itself survives a crash. A reader, or the
 * machine after a power cut, sees the old content or the new one, never a
 * mix. On any error the temp file is removed and the target is untouched.
 *
 * @example
 * await writeFileAtomic('runs/abc/state.json', JSON.stringify(state));
 * await writeFileAtomic('ckpt.safetensors', [headerBytes, tensorBytes]); // chunks, no concatenation
 * await appendLineDurable('runs/abc/events.jsonl', JSON.stringify({ event: 'phase-done', phase: 1 }));
 * const state = await readJsonFile('runs/abc/state.json'); // unknown: validate it
 * await sha256OfFile('ckpt.safetensors'); // 'e3b0c442...' (hex)
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataFormatError } from '../util/errors.js';

/** What can be written: text (UTF-8), bytes, or byte chunks written in order (a generator may throw to abort). */
export type FileContent = string | Uint8Array | Iterable<Uint8Array>;

/** The temp file name used for `path`: hidden, unique per process and call, in the same directory. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function chunksOf(data: FileContent): Iterable<Uint8Array> {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  return data;
}

/** Atomically replace `path` with `data` (see the module comment for the guarantee). */
export async function writeFileAtomic(path: string, data: FileContent): Promise<void> {
  const tempPath = tempPathFor(path);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tempPath, 'wx');
    for (const chunk of chunksOf(data)) {
      for (let done = 0; done < chunk.byteLength;) {
        done += (await handle.write(chunk, done, chunk.byteLength - done)).bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tempPath, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(tempPath, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Synchronous twin of {@link writeFileAtomic}, for exit handlers and other places that cannot await. */
export function writeFileAtomicSync(path: string, data: FileContent): void {
  const tempPath = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tempPath, 'wx');
    for (const chunk of chunksOf(data)) {
      for (let done = 0; done < chunk.byteLength;) {
        done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tempPath, path);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tempPath, { force: true });
    throw error;
  }
  syncDirectorySync(dirname(path));
}

/** {@link writeFileAtomic} of `JSON.stringify(value, null, 2)` plus a final newline. */
export async function writeJsonFileAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Append one line to an append-only log (JSONL) and fsync it before
 * resolving. The line goes out in a single `write` on a file opened with
 * O_APPEND, so concurrent appenders on a local file system do not
 * interleave within a line. A new file's directory entry is fsynced too.
 */
export async function appendLineDurable(path: string, line: string): Promise<void> {
  if (line.includes('\n') || line.includes('\r')) {
    throw new DataFormatError(path, 'a log line must not contain a line break (serialize it with JSON.stringify)');
  }
  const existed = await stat(path).then(
    () => true,
    () => false,
  );
  const handle = await open(path, 'a');
  try {
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    const { bytesWritten } = await handle.write(bytes);
    if (bytesWritten !== bytes.byteLength) {
      throw new DataFormatError(path, `short append: wrote ${bytesWritten} of ${bytes.byteLength} bytes`);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (!existed) await syncDirectory(dirname(path));
}

/** Read and parse a JSON file; a parse error becomes a DataFormatError naming the file. Validate the result. */
export async function readJsonFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DataFormatError(path, `invalid JSON: ${(error as Error).message}`);
  }
}

/** SHA-256 of a file's bytes as lowercase hex, streamed (constant memory). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// Some file systems and platforms cannot fsync a directory; the rename is
// then as durable as that platform allows, which is the best we can do.
const UNSUPPORTED_DIR_SYNC = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP']);

async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    if (!UNSUPPORTED_DIR_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

function syncDirectorySync(directory: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(directory, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    if (!UNSUPPORTED_DIR_SYNC.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
