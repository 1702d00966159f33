/**
 * The child process of a synchronous image-folder load without a cache
 * (imagefolder-load.ts): decodes the folder into its cache and writes one
 * JSON line, a {@link PrepareReply}, to stdout. Progress and warnings go to
 * stderr, which the parent shares.
 *
 *   node imagefolder-prepare-main.js '{"dir":"/data/flowers","options":{"imageSize":32,...}}'
 */
import { DataFormatError, ConfigError } from '../util/errors.js';
import { prepareImageFolder } from './imagefolder-decode.js';
import type { PrepareReply, PrepareRequest } from './imagefolder-load.js';

async function main(): Promise<PrepareReply> {
  try {
    const request = JSON.parse(process.argv[2] ?? '') as PrepareRequest;
    await prepareImageFolder(request.dir, request.options);
    return { ok: true };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    return {
      ok: false,
      error: {
        name: error.name,
        message: error.message,
        ...(error instanceof DataFormatError && { file: error.file, problem: error.problem }),
        ...(error instanceof ConfigError && { path: error.path, problem: error.problem }),
      },
    };
  }
}

const reply = await main();
process.stdout.write(`${JSON.stringify(reply)}\n`);
process.exitCode = reply.ok ? 0 : 1;
