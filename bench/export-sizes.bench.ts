/**
 * Sparse export sizes against the dense file and its peer, gzip -9 of the
 * dense file: the ConvNet (1×28×28) and ResNet-20 (3×32×32) with seeded
 * initial weights, BN running statistics from one batch of random images,
 * pruned by magnitude (every conv and linear weight; `global`: one
 * threshold, the default, or `uniform`: the same fraction per layer) to
 * each sparsity. Each sparse file is decoded again and checked bit-equal to the
 * dense one. Prints a table, then one JSON line {"bench":"export-sizes",...}.
 *
 * Run: node --import tsx bench/export-sizes.bench.ts [--sparsities 0.9,0.95,0.98] [--criterion global|uniform] [--out /tmp]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createModel } from '../src/models/registry.js';
import { Generator, noGrad, randn, setNumThreads, tidy } from '../src/tensor/index.js';
import { prunableParameters } from '../src/prune/prunable.js';
import { getCriterion } from '../src/prune/criteria.js';
import { exportStateDict, readModelFile, type ModelDescription } from '../src/checkpoints/model-description.js';

interface SizeRow {
  model: string;
  sparsity: number;
  nonzero: number;
  total: number;
  denseBytes: number;
  gzipDenseBytes: number;
  sparseBytes: number;
  /** sparseBytes / gzipDenseBytes: below 1 beats the peer. */
  vsGzip: number;
  /** sparseBytes / denseBytes. */
  vsDense: number;
  storage: Record<string, number>;
}

const args = process.argv.slice(2);
const argValue = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const sparsities = argValue('sparsities', '0.9,0.95,0.98').split(',').map(Number);
const criterion = argValue('criterion', 'global');
setNumThreads(1);

const models: ModelDescription[] = [
  { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 },
  { name: 'resnet20', options: {}, inChannels: 3, numClasses: 10, imageSize: 32 },
];
const dir = mkdtempSync(join(argValue('out', tmpdir()), 'export-sizes-'));
const rows: SizeRow[] = [];
try {
  for (const d of models) {
    for (const sparsity of sparsities) {
      const model = createModel(d.name, {
        inChannels: d.inChannels,
        numClasses: d.numClasses,
        imageSize: d.imageSize,
        generator: new Generator(0),
      });
      noGrad(() => tidy(() => model.train().forward(randn([32, d.inChannels, d.imageSize, d.imageSize], { generator: new Generator(1) }))));
      const mask = getCriterion(criterion)(prunableParameters(model), null, sparsity, {});
      mask.apply(model);
      mask.dispose();
      const dense = await exportStateDict(model.stateDict(), d, join(dir, `${d.name}-${sparsity}.dense.safetensors`), { format: 'dense' });
      const sparse = await exportStateDict(model.stateDict(), d, join(dir, `${d.name}-${sparsity}.sparse.safetensors`), {
        format: 'sparse',
      });
      model.dispose();
      const a = (await readModelFile(dense.path)).state;
      const b = (await readModelFile(sparse.path)).state;
      for (const [name, t] of a) {
        const u = b.get(name)!;
        if (
          !Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(
            Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
          )
        )
          throw new Error(`${d.name} at ${sparsity}: ${name} decodes to other bits`);
      }
      const gzipDenseBytes = gzipSync(readFileSync(dense.path), { level: 9 }).byteLength;
      rows.push({
        model: d.name,
        sparsity,
        nonzero: sparse.nonzero,
        total: sparse.total,
        denseBytes: dense.bytes,
        gzipDenseBytes,
        sparseBytes: sparse.bytes,
        vsGzip: sparse.bytes / gzipDenseBytes,
        vsDense: sparse.ratio,
        storage: Object.fromEntries(Object.entries(sparse.storage).filter(([, n]) => n > 0)),
      });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const n = (x: number): string => x.toLocaleString('en-US');
console.log(
  '| model | sparsity | non-zero / float32 elements | dense (B) | gzip -9 dense (B) | sparse (B) | sparse / gzip -9 dense | sparse / dense | storages |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) {
  const storages = Object.entries(r.storage)
    .map(([s, c]) => `${c} ${s}`)
    .join(', ');
  console.log(
    `| ${r.model} | ${(100 * r.sparsity).toFixed(0)}% | ${n(r.nonzero)} / ${n(r.total)} | ${n(r.denseBytes)} | ${n(r.gzipDenseBytes)} | ${n(r.sparseBytes)} | ${r.vsGzip.toFixed(3)} | ${(100 * r.vsDense).toFixed(1)}% | ${storages} |`,
  );
}
console.log(
  JSON.stringify({
    bench: 'export-sizes',
    pruning: `${criterion} magnitude, seeded initial weights`,
    peer: 'gzip -9 of the dense file',
    rows,
  }),
);
