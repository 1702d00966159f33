// A checkpoint saved from a model loads in the reference Python `safetensors`
// library (safetensors.numpy, and safetensors.torch where torch is present)
// by its tensor names, with the same shapes and bytes. Debian packages the
// library from trixie on (python3-safetensors); where it is missing this
// test is skipped and the independent reader in test/io covers the format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator } from '../../src/tensor/index.js';
import { saveStateDict } from '../../src/nn/index.js';
import { createModel } from '../../src/models/index.js';

const SCRIPT = join(import.meta.dirname, '..', 'io', 'reference_safetensors.py');
const NUMPY_DTYPE: Record<string, string> = { float32: 'float32', int64: 'int64' };

test('a saved ResNet-20 loads in the reference safetensors library by its names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-ref-'));
  const model = createModel('resnet20', { inChannels: 3, numClasses: 10, imageSize: 32, generator: new Generator(3) });
  try {
    const path = join(dir, 'resnet20.safetensors');
    const state = model.stateDict();
    await saveStateDict(path, state, { model: 'resnet20' });
    const r = spawnSync('/usr/bin/python3', [SCRIPT, path], { encoding: 'utf8' });
    if (r.status === 3 || r.error) {
      t.skip(`reference library unavailable: ${(r.stderr || String(r.error)).trim()}`);
      return;
    }
    assert.equal(r.status, 0, `reference_safetensors.py failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; sha256: string }>;
    };
    assert.deepEqual(out.metadata, { format: 'pt', model: 'resnet20' });
    assert.deepEqual(Object.keys(out.tensors).sort(), [...state.keys()].sort());
    for (const [name, tensor] of state) {
      const got = out.tensors[name];
      assert.deepEqual(got.shape, tensor.shape, `${name}: shape`);
      assert.equal(got.dtype, NUMPY_DTYPE[tensor.dtype], `${name}: dtype`);
      const a = tensor.toArray();
      const sha = createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
      assert.equal(got.sha256, sha, `${name}: bytes`);
    }
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
