// Self-describing model files: the description metadata round trip, mask
// files refused as models, and an independent numpy reader of the sparse
// layout exportStateDict writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../../src/tensor/index.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import {
  exportStateDict,
  MASK_FILE_FORMAT,
  modelMetadata,
  readModelDescription,
  readModelFile,
  type ModelDescription,
} from '../../src/checkpoints/model-description.js';
import type { StoragePolicy } from '../../src/checkpoints/sparse-format.js';
import { CheckpointError, DataFormatError } from '../../src/util/errors.js';
import { bytesOf, CONVNET, prunedModel, withTempDir } from '../helpers/model-files.js';

setNumThreads(2);

test('the description round-trips through the metadata; a file without shape keys has none', () => {
  const d: ModelDescription = { name: 'mlp', options: { hiddenSizes: [8] }, inChannels: 1, numClasses: 10, imageSize: 28, dataset: 'npy' };
  const metadata = modelMetadata(d);
  assert.deepEqual(metadata, {
    model: 'mlp',
    model_options: '{"hiddenSizes":[8]}',
    in_channels: '1',
    num_classes: '10',
    image_size: '28',
    dataset: 'npy',
  });
  assert.deepEqual(readModelDescription(metadata, 'm.safetensors'), d);
  assert.equal(readModelDescription({ model: 'mlp', kind: 'soup' }, 'checkpoint.safetensors'), null);
  assert.throws(
    () => readModelDescription({ ...metadata, model_options: '[1]' }, 'm.safetensors'),
    (e: unknown) => e instanceof DataFormatError && e.file === 'm.safetensors' && /model_options' must be a JSON object/.test(e.message),
  );
});

test(
  'a pruning mask file is refused as a model',
  withTempDir(async (dir) => {
    const path = join(dir, 'mask.safetensors');
    await saveSafetensors(path, new Map([['fc.weight', { dtype: 'U8', shape: [1], data: Uint8Array.from([255]) }]]), {
      format: MASK_FILE_FORMAT,
    });
    await assert.rejects(
      readModelFile(path),
      (e: unknown) => e instanceof CheckpointError && /is a pruning mask file, not a model/.test(e.message),
    );
  }),
);

// ---------------------------------------------------------------- an independent reader

const PYTHON = '/usr/bin/python3';
const pythonProblem = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} with numpy is not available`;
})();

// The reader of docs/export.md ("Reading it in Python": numpy and the raw
// safetensors header only), run as written there, hashing what it returns.
const DOCS = join(import.meta.dirname, '../../docs/export.md');
function numpyRecipe(): string {
  const blocks = [...readFileSync(DOCS, 'utf8').matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
  const recipe = blocks.find((b) => b.includes('def load_sparse(path)'));
  assert.ok(recipe, 'docs/export.md has a python block defining load_sparse(path)');
  return `${recipe}
import hashlib, sys
state = load_sparse(sys.argv[1])
print(json.dumps({name: hashlib.sha256(np.ascontiguousarray(t).tobytes()).hexdigest() for name, t in state.items()}))
`;
}

test(
  'the numpy recipe of docs/export.md reads every storage back byte-identical to the dense export',
  { skip: pythonProblem },
  withTempDir(async (dir) => {
    const model = prunedModel(CONVNET, 7);
    const dense = await exportStateDict(model.stateDict(), CONVNET, join(dir, 'd.safetensors'), { format: 'dense' });
    const state = (await readModelFile(dense.path)).state;
    const recipe = numpyRecipe();
    for (const policy of ['auto', 'packed', 'bitmask', 'indices', 'dense'] as StoragePolicy[]) {
      const sparse = await exportStateDict(model.stateDict(), CONVNET, join(dir, `${policy}.safetensors`), {
        format: 'sparse',
        storage: policy,
      });
      const result = spawnSync(PYTHON, ['-c', recipe, sparse.path], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      const hashes = JSON.parse(result.stdout) as Record<string, string>;
      assert.deepEqual(Object.keys(hashes), [...state.keys()]);
      for (const [name, t] of state)
        assert.equal(hashes[name], createHash('sha256').update(bytesOf(t)).digest('hex'), `${policy}: ${name}`);
    }
    model.dispose();
  }),
);
