// exportModel: dense and sparse files of a 90%-pruned ConvNet checkpoint
// (sizes, bit-equal predictions, self-describing metadata, re-export),
// checkpoints of another model, missing metadata and the run config.json
// fallback (run/checkpoint-origin.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, setNumThreads } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/registry.js';
import { loadModel } from '../../src/models/load.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { readModelFile } from '../../src/checkpoints/model-description.js';
import { SPARSE_FORMAT } from '../../src/checkpoints/sparse-format.js';
import { normalizedConfigJson, parseSmsConfig } from '../../src/sms/config.js';
import { dtypeByteSize, loadSafetensors, readSafetensorsHeader, saveSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { CheckpointError, ConfigError, DataFormatError } from '../../src/util/errors.js';
import { exportModel } from '../../src/run/export.js';
import { bytesOf, CONVNET, logitBits, prunedModel, withTempDir } from '../helpers/model-files.js';

setNumThreads(2);

const negativeZeros = (t: SafeTensor): number =>
  t.dtype === 'F32' ? new Uint32Array(t.data.slice().buffer).filter((b) => b === 0x80000000).length : 0;

test(
  'a 90%-pruned ConvNet: the sparse file is under a quarter of the dense one, both load back to bit-equal predictions',
  withTempDir(async (dir) => {
    const model = prunedModel(CONVNET);
    const original = logitBits(model, CONVNET);
    const checkpoint = join(dir, 'soup.safetensors');
    await saveCheckpoint(checkpoint, model.stateDict(), { model: 'convnet', kind: 'soup' });
    const before = await readModelFile(checkpoint);
    assert.ok(
      [...before.state.values()].some((t) => negativeZeros(t) > 0),
      'masking left -0.0 weights (the case the format canonicalizes)',
    );

    const dense = await exportModel({ checkpoint, output: join(dir, 'soup.dense.safetensors'), format: 'dense', dataset: 'fashion-mnist' });
    const sparse = await exportModel({
      checkpoint,
      output: join(dir, 'soup.sparse.safetensors'),
      format: 'sparse',
      dataset: 'fashion-mnist',
    });
    assert.equal(dense.bytes, statSync(dense.path).size);
    assert.equal(sparse.bytes, statSync(sparse.path).size);
    assert.equal(sparse.denseBytes, dense.bytes, 'denseBytes is the size of the dense export');
    assert.equal(dense.ratio, 1);
    assert.ok(sparse.bytes <= dense.bytes / 4, `sparse ${sparse.bytes} B vs dense ${dense.bytes} B`);
    assert.equal(sparse.ratio, sparse.bytes / dense.bytes);
    assert.equal(sparse.total, 421_930); // every float32 element of the state dict
    assert.equal(sparse.nonzero, dense.nonzero);
    assert.ok(sparse.nonzero < 0.11 * sparse.total && sparse.nonzero > 0.09 * sparse.total);
    assert.ok(sparse.storage.packed >= 4, 'the four weight tensors are packed');
    assert.equal(dense.storage.dense, 16);

    // Self-describing: the metadata rebuilds the model; the source's kind is carried over.
    for (const path of [dense.path, sparse.path]) {
      const { metadata } = await readSafetensorsHeader(path);
      assert.equal(metadata.model, 'convnet');
      assert.equal(metadata.model_options, '{}');
      assert.deepEqual([metadata.in_channels, metadata.num_classes, metadata.image_size], ['1', '10', '28']);
      assert.equal(metadata.dataset, 'fashion-mnist');
      assert.equal(metadata.kind, 'soup');
    }
    assert.equal((await readSafetensorsHeader(dense.path)).metadata.format, 'pt');
    const sparseHeader = await readSafetensorsHeader(sparse.path);
    assert.equal(sparseHeader.metadata.format, SPARSE_FORMAT);
    for (const [name, info] of sparseHeader.tensors) {
      assert.equal((sparseHeader.dataStart + info.dataOffsets[0]) % dtypeByteSize(info.dtype), 0, `${name} is aligned in the file`);
    }

    // The sparse file decodes to exactly the dense file's bits (zeros as +0.0 in both).
    const fromDense = await readModelFile(dense.path);
    const fromSparse = await readModelFile(sparse.path);
    assert.equal(fromSparse.format, 'sparse');
    assert.deepEqual([...fromSparse.state.keys()], [...before.state.keys()]);
    for (const [name, t] of fromDense.state) {
      const s = fromSparse.state.get(name)!;
      assert.deepEqual([s.dtype, s.shape], [t.dtype, t.shape], name);
      assert.ok(bytesOf(s).equals(bytesOf(t)), `${name}: sparse and dense bits differ`);
      assert.equal(negativeZeros(t), 0, `${name}: -0.0 written as +0.0`);
    }

    // Loaded without any hint, both predict bit-identically to the original model.
    for (const path of [dense.path, sparse.path]) {
      const loaded = await loadModel(path);
      assert.deepEqual(loaded.description, { ...CONVNET, dataset: 'fashion-mnist' });
      assert.deepEqual(logitBits(loaded.model, CONVNET), original, `${path}: logits bit-equal`);
      loaded.model.dispose();
    }

    // Re-exporting an export gives the same file.
    const again = await exportModel({ checkpoint: sparse.path, output: join(dir, 'again.safetensors'), format: 'sparse' });
    assert.equal(again.bytes, sparse.bytes);
    model.dispose();
  }),
);

// ---------------------------------------------------------------- model resolution

test(
  'a checkpoint of another model is a CheckpointError naming the keys, and nothing is written',
  withTempDir(async (dir) => {
    const mlp = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, hiddenSizes: [16], generator: new Generator(0) });
    const checkpoint = join(dir, 'mlp.safetensors');
    await saveCheckpoint(checkpoint, mlp.stateDict(), { model: 'convnet', kind: 'dense' }); // mislabelled
    const output = join(dir, 'out.safetensors');
    await assert.rejects(exportModel({ checkpoint, output, format: 'sparse', dataset: 'fashion-mnist' }), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /mlp\.safetensors does not fit convnet \{\} for 1×28×28 images, 10 classes/);
      assert.match(
        e.message,
        // 12 names, less the two num_batches_tracked that PyTorch lets a state dict lack
        /Keys 10 missing: 'conv1\.weight', 'bn1\.weight', 'bn1\.bias', 'bn1\.running_mean', 'bn1\.running_var' and 5 more\./,
      );
      assert.match(e.message, /Keys 3 of another shape: 'fc1\.weight' is \[16, 784\] in the file, \[128, 3136\] in the model; 'fc1\.bias'/);
      assert.match(e.message, /--model, --model-options/);
      return true;
    });
    assert.ok(!existsSync(output));
    // With the right name and options it exports.
    const r = await exportModel({
      checkpoint,
      output,
      format: 'dense',
      model: 'mlp',
      modelOptions: { hiddenSizes: [16] },
      dataset: 'fashion-mnist',
    });
    assert.deepEqual(r.model.options, { hiddenSizes: [16] });
    // A self-describing file loaded as another model.
    await assert.rejects(
      loadModel(output, { model: 'convnet' }),
      (e: unknown) => e instanceof CheckpointError && /fc1\.weight/.test(e.message),
    );
    mlp.dispose();
  }),
);

test(
  'missing metadata: the error says to pass --model and --dataset; a run config.json supplies both',
  withTempDir(async (dir) => {
    const mlp = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, hiddenSizes: [8], generator: new Generator(0) });
    const bare = join(dir, 'bare.safetensors');
    await saveSafetensors(
      bare,
      new Map([...mlp.stateDict()].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.toArray<'float32'>() } as SafeTensor])),
    );
    const out = join(dir, 'out.safetensors');
    await assert.rejects(exportModel({ checkpoint: bare, output: out, format: 'dense' }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, '--model');
      assert.match(e.message, /pass --model <name> \(mlp, convnet, .*\) and --dataset <name>/);
      return true;
    });
    await assert.rejects(
      exportModel({ checkpoint: bare, output: out, format: 'dense', model: 'mlp' }),
      (e: unknown) => e instanceof ConfigError && e.path === '--dataset' && /pass --dataset/.test(e.message),
    );

    // A pipeline checkpoint inside a run directory: model options and dataset come from config.json.
    const config = parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'mlp', options: { hiddenSizes: [8] } } });
    writeFileSync(join(dir, 'config.json'), normalizedConfigJson(config));
    mkdirSync(join(dir, 'phase-1'));
    const soup = join(dir, 'phase-1', 'soup-uniform.safetensors');
    await saveCheckpoint(soup, mlp.stateDict(), { model: 'mlp', kind: 'soup' });
    const r = await exportModel({ checkpoint: soup, output: out, format: 'sparse' });
    assert.deepEqual(r.model, {
      name: 'mlp',
      options: { hiddenSizes: [8] },
      inChannels: 1,
      numClasses: 10,
      imageSize: 28,
      dataset: 'fashion-mnist',
    });

    // A half-written description is malformed, not silently ignored.
    const { tensors, metadata } = await loadSafetensors(out);
    const partial = join(dir, 'partial.safetensors');
    await saveSafetensors(partial, tensors, { ...metadata, image_size: 'big' });
    await assert.rejects(
      loadModel(partial),
      (e: unknown) => e instanceof DataFormatError && e.file === partial && /image_size/.test(e.message),
    );
    const noModel = { ...metadata };
    delete noModel.model;
    await saveSafetensors(partial, tensors, noModel);
    await assert.rejects(loadModel(partial), (e: unknown) => e instanceof DataFormatError && /not model/.test(e.message));
    mlp.dispose();
  }),
);
