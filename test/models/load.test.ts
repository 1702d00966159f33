// loadModel: dense and sparse files of a 90%-pruned ResNet-20 load back to
// bit-equal predictions; a file that does not describe itself needs
// hints.describe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Generator, setNumThreads } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/registry.js';
import { loadModel } from '../../src/models/load.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { exportStateDict } from '../../src/checkpoints/model-description.js';
import { CheckpointError } from '../../src/util/errors.js';
import { logitBits, prunedModel, RESNET20, withTempDir } from '../helpers/model-files.js';

setNumThreads(2);

test(
  'a 90%-pruned ResNet-20: sparse file under a quarter of the dense one, bit-equal predictions',
  withTempDir(async (dir) => {
    const model = prunedModel(RESNET20, 3);
    const dense = await exportStateDict(model.stateDict(), RESNET20, join(dir, 'r20.safetensors'), { format: 'dense' });
    const sparse = await exportStateDict(model.stateDict(), RESNET20, join(dir, 'r20.sparse.safetensors'), { format: 'sparse' });
    assert.ok(sparse.bytes <= dense.bytes / 4, `sparse ${sparse.bytes} B vs dense ${dense.bytes} B`);
    const expected = logitBits(model, RESNET20);
    for (const path of [dense.path, sparse.path]) {
      const loaded = await loadModel(path);
      assert.deepEqual(logitBits(loaded.model, RESNET20), expected, path);
      loaded.model.dispose();
    }
    model.dispose();
  }),
);

test(
  'a file that records no input shape: hints.describe supplies the description, without it a CheckpointError',
  withTempDir(async (dir) => {
    const mlp = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, hiddenSizes: [8], generator: new Generator(0) });
    const checkpoint = join(dir, 'soup.safetensors');
    await saveCheckpoint(checkpoint, mlp.stateDict(), { model: 'mlp', kind: 'soup' });
    await assert.rejects(loadModel(checkpoint), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(
        e.message,
        /soup\.safetensors does not record its input shape and classes \(metadata in_channels, num_classes, image_size\)/,
      );
      assert.match(e.message, /hints\.describe/);
      return true;
    });
    const asked: (string | undefined)[] = [];
    const loaded = await loadModel(checkpoint, {
      modelOptions: { hiddenSizes: [8] },
      describe: (file, name) => {
        asked.push(name);
        return { name: name!, options: { hiddenSizes: [8] }, inChannels: 1, numClasses: 10, imageSize: 28 };
      },
    });
    assert.deepEqual(asked, ['mlp'], "describe gets the file's model name");
    assert.equal(loaded.format, 'dense');
    assert.equal(loaded.metadata.kind, 'soup');
    loaded.model.dispose();

    // A self-describing file does not ask.
    const exported = await exportStateDict(mlp.stateDict(), loaded.description, join(dir, 'mlp.sparse.safetensors'), { format: 'sparse' });
    const again = await loadModel(exported.path, {
      describe: () => {
        throw new Error('not asked for a self-describing file');
      },
    });
    assert.deepEqual(again.description, loaded.description);
    again.model.dispose();
    mlp.dispose();
  }),
);

test(
  'a well-formed sparse file of another model is a CheckpointError naming the file, the tensors and the shapes',
  withTempDir(async (dir) => {
    const mlp = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, hiddenSizes: [16], generator: new Generator(0) });
    const described = { name: 'mlp', options: { hiddenSizes: [16] }, inChannels: 1, numClasses: 10, imageSize: 28 };
    // Names that do not fit: an MLP's tensors under a file that says convnet.
    const mislabelled = await exportStateDict(
      mlp.stateDict(),
      { ...described, name: 'convnet', options: {} },
      join(dir, 'mislabelled.sparse.safetensors'),
      {
        format: 'sparse',
      },
    );
    await assert.rejects(loadModel(mislabelled.path), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /mislabelled\.sparse\.safetensors does not fit convnet \{\} for 1×28×28 images, 10 classes/);
      assert.match(e.message, /Keys \d+ missing: 'conv1\.weight'/);
      assert.match(e.message, /'fc1\.weight' is \[16, 784\] in the file, \[128, 3136\] in the model/);
      return true;
    });
    // Shapes that do not fit: the right model, other options from the hints.
    const own = await exportStateDict(mlp.stateDict(), described, join(dir, 'mlp16.sparse.safetensors'), { format: 'sparse' });
    await assert.rejects(loadModel(own.path, { modelOptions: { hiddenSizes: [8] } }), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /mlp16\.sparse\.safetensors does not fit mlp \{"hiddenSizes":\[8\]\}/);
      assert.match(e.message, /is \[16, 784\] in the file, \[8, 784\] in the model/);
      return true;
    });
    mlp.dispose();
  }),
);
