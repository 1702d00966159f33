/**
 * Prune, retrain, soup and recalibrate your own models by hand, without the
 * pipeline: the building blocks runSms is made of, in the manner of PyTorch's
 * `torch.nn.utils.prune` and `torch.optim.swa_utils`.
 *
 *   PyTorch                                            sparse-soups
 *   prune.global_unstructured(L1Unstructured, amount)  globalMagnitudeMask(prunableParameters(model), null, amount)
 *   prune.remove / the weight_mask buffers             mask.apply(model); trainModel(..., { masks })
 *   swa_utils.AveragedModel                            averageStates([...stateDicts])
 *   swa_utils.update_bn(loader, model)                 recalibrateBatchNorm(model, loader, { fraction })
 *
 *   npx tsx examples/prune-soup-recalibrate.ts          # a few seconds
 *   npx tsx examples/prune-soup-recalibrate.ts --tiny   # the smallest run (what the test runs)
 *
 * Prints the dense accuracy, the mask's sparsity, each candidate's accuracy, and the soup's accuracy before
 * and after batch-norm recalibration, and its sparsity (the soup keeps the mask: an average of zeros is zero).
 */
import { parseArgs } from 'node:util';
import {
  BatchNorm1d,
  DataLoader,
  Generator,
  Linear,
  Module,
  accuracy,
  averageStates,
  disposeState,
  globalMagnitudeMask,
  makeDenseSchedule,
  modelSparsity,
  predictLogits,
  prunableParameters,
  recalibrateBatchNorm,
  stepsFor,
  trainModel,
} from 'sparse-soups';
import type { Tensor } from 'sparse-soups';
import { TOY_SIZE, toyDataset } from './toy-data.js';

const { values: args } = parseArgs({ options: { tiny: { type: 'boolean', default: false } } });
const { train, test } = toyDataset(args.tiny ? 400 : 800);

/** Your model: 256 → 64 (BN, ReLU) → 4 classes. */
class SmallNet extends Module {
  readonly fc1: Linear;
  readonly bn1: BatchNorm1d;
  readonly fc2: Linear;
  constructor(generator: Generator) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(TOY_SIZE * TOY_SIZE, 64, { generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm1d(64));
    this.fc2 = this.registerModule('fc2', new Linear(64, 4, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.bn1.forward(this.fc1.forward(x.flatten(1))).relu());
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const testAccuracy = async (model: Module): Promise<number> => accuracy(await predictLogits(model, test), test.labels, test.numClasses);

// Train a dense model: SGD with momentum 0.9, linear decay from 0.05 after a 10% warm-up.
const dense = new SmallNet(new Generator(0));
const loader = new DataLoader(train, { batchSize: 32, seed: 0 });
const epochs = args.tiny ? 1 : 3;
await trainModel(dense, loader, {
  epochs,
  lr: makeDenseSchedule('linear', { maxLr: 0.05, totalSteps: stepsFor(loader, epochs) }).lr,
  weightDecay: 5e-4,
});
console.log(`dense: test accuracy ${pct(await testAccuracy(dense))}`);

// Prune: one threshold on |w| over all Linear and Conv2d weights (biases and BN stay dense), 80% of them to 0.
const mask = globalMagnitudeMask(prunableParameters(dense), null, 0.8);
mask.apply(dense); // w ← w ⊙ mask
console.log(`mask: sparsity ${pct(mask.sparsity())}, hash ${mask.hash().slice(0, 12)}`);

// Retrain candidates from the pruned model, each with its own batch order; the mask holds pruned weights
// (and their momentum) at exactly 0 after every step.
const masks = mask.forParameters(dense.namedParameters().map(([name]) => name));
const candidates: SmallNet[] = [];
for (const seed of args.tiny ? [1, 2] : [1, 2, 3]) {
  const candidate = new SmallNet(new Generator(seed));
  candidate.loadStateDict(dense.stateDict());
  const order = new DataLoader(train, { batchSize: 32, seed });
  const steps = stepsFor(order, 1);
  await trainModel(candidate, order, { epochs: 1, lr: (t) => 0.05 * (1 - t / steps), weightDecay: 5e-4, masks });
  console.log(`candidate ${seed}: test accuracy ${pct(await testAccuracy(candidate))}`);
  candidates.push(candidate);
}

// Soup: the mean of the candidates' tensors (BN running statistics included) ...
const soup = new SmallNet(new Generator(0));
const averaged = averageStates(candidates.map((c) => c.stateDict()));
soup.loadStateDict(averaged);
disposeState(averaged); // loadStateDict copied them
console.log(`soup before BN recalibration: test accuracy ${pct(await testAccuracy(soup))}`);
// ... whose averaged BN statistics do not match its averaged weights: recompute them on 20% of the training data.
await recalibrateBatchNorm(soup, loader, { fraction: 0.2 });
const sparsity = modelSparsity(soup, prunableParameters(soup)).global;
console.log(`soup: test accuracy ${pct(await testAccuracy(soup))}, sparsity ${pct(sparsity)}`);
