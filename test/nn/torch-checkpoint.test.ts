// A ConvNet state dict saved by PyTorch itself (test/nn/torch_state_dict.py:
// torch's ConvNet, model.half() and nn.DataParallel in bfloat16 without
// num_batches_tracked) loads into the zoo's `convnet` with exactly the values
// PyTorch's load_state_dict gives, and the loaded model predicts what
// PyTorch's does. Skipped where /usr/bin/python3 cannot import torch
// (Debian: python3-torch, which scripts/setup-bench.sh installs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, noGrad, tidy } from '../../src/tensor/index.js';
import { loadStateDictFile, type StateDict } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';

const SCRIPT = join(import.meta.dirname, 'torch_state_dict.py');
const VARIANTS = ['float16', 'bfloat16-dataparallel'];

async function loadFile(path: string): Promise<StateDict> {
  return (await loadStateDictFile(path)).state;
}

test('a ConvNet state dict saved by PyTorch in float16 or bfloat16 loads as PyTorch loads it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-torch-'));
  try {
    const r = spawnSync('/usr/bin/python3', [SCRIPT, dir], { encoding: 'utf8' });
    if (r.status === 3 || r.error) {
      t.skip(`PyTorch unavailable: ${(r.stderr || String(r.error)).trim()}`);
      return;
    }
    assert.equal(r.status, 0, `torch_state_dict.py failed: ${r.stderr}`);
    for (const variant of VARIANTS) {
      const model = createModel('convnet', { inChannels: 1, numClasses: 10, imageSize: 8, generator: new Generator(0) });
      const files = await Promise.all(['', '.expected', '.logits'].map((kind) => loadFile(join(dir, `${variant}${kind}.safetensors`))));
      const [saved, expected, forward] = files;
      try {
        model.loadStateDict(saved, { origin: `${variant}.safetensors` });
        const own = model.stateDict();
        assert.deepEqual([...expected.keys()].sort(), [...own.keys()].sort(), `${variant}: names`);
        for (const [name, want] of expected) {
          const got = own.get(name)!;
          assert.equal(got.dtype, want.dtype, `${variant}: ${name} dtype`);
          assert.deepEqual(got.toArray(), want.toArray(), `${variant}: ${name} holds what PyTorch loads`);
        }
        const logits = noGrad(() => tidy(() => model.eval().forward(forward.get('input')!).toArray<'float32'>()));
        const torchLogits = forward.get('logits')!.toArray<'float32'>();
        const worst = Math.max(...logits.map((v, i) => Math.abs(v - torchLogits[i])));
        assert.ok(worst < 1e-4, `${variant}: logits differ from PyTorch's by ${worst}`);
      } finally {
        for (const state of files) for (const x of state.values()) x.dispose();
        model.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
