// `dense.checkpoint` starts SMS from a model trained in PyTorch: a ConvNet
// state dict saved as safetensors in bfloat16 from an nn.DataParallel model
// without num_batches_tracked (test/helpers/pytorch-state-dict.ts) is loaded
// as PyTorch loads it, saved as the run's float32 dense parent, and pruned
// and retrained from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, setNumThreads } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/registry.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { loadCheckpoint } from '../../src/checkpoints/store.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { runSms, type SmsEvent } from '../../src/sms/pipeline.js';
import { CheckpointError } from '../../src/util/errors.js';
import { tinyRunConfig, TINY_IMAGE_SIZE } from '../helpers/tiny-run.js';
import { pytorchStyleStateDict } from '../helpers/pytorch-state-dict.js';

test('dense.checkpoint: SMS starts from a bfloat16 PyTorch ConvNet state dict', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-torch-dense-'));
  try {
    const torchModel = createModel('convnet', { inChannels: 1, numClasses: 10, imageSize: TINY_IMAGE_SIZE, generator: new Generator(0) });
    const { tensors, expected } = pytorchStyleStateDict(torchModel, { dtype: 'BF16', prefix: 'module.', withoutBatchCounts: true });
    torchModel.dispose();
    const checkpoint = join(dir, 'my-torch-model.safetensors');
    await saveSafetensors(checkpoint, tensors, { format: 'pt' });
    const raw = tinyRunConfig({
      data: { trainSubset: 64 },
      dense: { checkpoint },
      pruning: { goalSparsity: 0.5, phases: 1 },
      candidates: { count: 1 },
    });
    const config = parseSmsConfig({ ...raw, model: { name: 'convnet' } }); // the tiny run's MLP options do not apply
    const events: SmsEvent[] = [];
    const results = await runSms(config, { workDir: join(dir, 'run'), onEvent: (e) => events.push(e) });
    assert.equal(events.filter((e) => e.type === 'dense-start').length, 0, 'nothing trained: the checkpoint is the dense model');
    assert.equal(results.phases.length, 1);

    // The run's dense parent holds the checkpoint's values as float32, batch counts 0.
    const dense = await loadCheckpoint(join(dir, 'run', 'dense.safetensors'));
    try {
      assert.deepEqual([...dense.keys()].sort(), [...expected.keys(), 'bn1.num_batches_tracked', 'bn2.num_batches_tracked'].sort());
      for (const [name, want] of expected) {
        const got = dense.get(name)!.toArray();
        assert.ok(got instanceof Float32Array, `${name} is float32`);
        assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array((want as Float32Array).buffer), `${name} bits`);
      }
      assert.equal(dense.get('bn1.num_batches_tracked')!.item(), 0);
    } finally {
      for (const t of dense.values()) t.dispose();
    }

    // The checkpoint of another model (the MLP also has fc1 and fc2) is refused naming the file and the keys.
    const mlpConfig = parseSmsConfig(tinyRunConfig({ dense: { checkpoint } }));
    await assert.rejects(runSms(mlpConfig, { workDir: join(dir, 'mlp-run') }), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /^dense\.checkpoint: state dict \(from .*my-torch-model\.safetensors\) does not fit Mlp\. /);
      assert.match(e.message, /Keys 10 unexpected: 'module\.bn1\.bias', /);
      assert.match(e.message, /Keys 3 of another shape: 'module\.fc1\.weight' is \[128, 3136\] in the file, \[32, 784\] in the model; /);
      assert.match(e.message, /\. Set model\.name and model\.options to the architecture the file holds/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
