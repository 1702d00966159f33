/**
 * Training throughput of sparse-soups against PyTorch (the peer: Debian's
 * python3-torch, on the same libtorch) on the same models, data and
 * optimizer, at 1 and 2 threads:
 *
 *   npm run bench:train                      # installs python3-torch if missing, then runs
 *   node --import tsx bench/train.bench.ts [--models cnn,convnet,resnet20] [--threads 1,2] [--reps 3] [--tuned-peer]
 *   node --import tsx bench/train.bench.ts --device cuda --python python3 --models resnet20 --threads 1
 *
 * Models: `convnet` (the zoo's BN ConvNet, 1×28×28), `resnet20` (CIFAR
 * ResNet-20, option A, 3×32×32) and `cnn` (the small no-BN CNN first used
 * to compare engines). Batch 128, one fixed random batch, SGD with Nesterov
 * momentum 0.9 and weight decay 5e-4.
 *
 * Every measurement runs in a fresh process (bench/train-worker.ts or
 * bench/peer/train_models.py) with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
 * MKL_NUM_THREADS set to the thread count, so both sides get the same BLAS
 * pool. Ours and the peer alternate (the order flips each repeat) and each
 * keeps its best of `reps` runs, so machine noise, which only slows, hits
 * both alike.
 *
 * The addon raises glibc's mmap threshold (native/src/addon.cc,
 * TuneAllocator); `--tuned-peer` also measures PyTorch with the same malloc
 * settings (MALLOC_MMAP_THRESHOLD_ etc.), to show what of the difference is
 * the allocator.
 *
 * `--device cuda` trains both on the GPU (an addon built against a CUDA
 * libtorch, e.g. LIBTORCH=<a CUDA PyTorch's torch/ folder>, and a PyTorch
 * with CUDA as `--python`, default /usr/bin/python3); scripts/gpu-check.sh
 * runs the ResNet-20 comparison that way.
 *
 * Prints a table and, last, one JSON line
 *   {"convnet_ratio":..,"resnet20_ratio":..,"cnn_ratio":..,"rows":[...]}
 * where a ratio = sparse-soups samples/s ÷ PyTorch samples/s (1.0 = as
 * fast), the lowest over the thread counts; `rows` has every measurement.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';

const STEPS: Record<string, { steps: number; warmup: number }> = {
  cnn: { steps: 60, warmup: 10 },
  convnet: { steps: 60, warmup: 10 },
  resnet20: { steps: 20, warmup: 3 },
};

interface Row {
  model: string;
  threads: number;
  ours: number;
  pytorch: number | null;
  ratio: number | null;
  /** --tuned-peer: PyTorch with the addon's malloc settings. */
  pytorchTuned?: number | null;
  ratioTuned?: number | null;
}

/** The addon's mallopt settings (native/src/addon.cc), as glibc's environment tunables. */
const TUNED_MALLOC = {
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024),
  MALLOC_TOP_PAD_: String(64 * 1024 * 1024),
};

function run(
  cmd: string,
  args: string[],
  threads: number,
  extraEnv: Record<string, string> = {},
): { samples_per_s: number; libtorch?: string; torch?: string } | string {
  const t = String(threads);
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t, ...extraEnv },
  });
  if (r.status !== 0) return (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').pop() ?? '';
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { samples_per_s: number };
}

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'convnet,resnet20,cnn' },
    threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '128' },
    'tuned-peer': { type: 'boolean', default: false },
    device: { type: 'string', default: 'cpu' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const python = values.python;
const tunedPeer = values['tuned-peer'];
const reps = Number(values.reps);
const batch = values.batch;
const rows: Row[] = [];
let libtorch = '?';
let torch = '?';
const load0 = loadavg()[0];
for (const model of values.models.split(',')) {
  const s = STEPS[model];
  if (!s) throw new Error(`unknown model '${model}' (one of ${Object.keys(STEPS).join(', ')})`);
  for (const threads of values.threads.split(',').map(Number)) {
    const common = [
      '--model',
      model,
      '--steps',
      String(s.steps),
      '--warmup',
      String(s.warmup),
      '--batch',
      batch,
      '--threads',
      String(threads),
      '--device',
      values.device,
    ];
    let ours = 0;
    let pytorch: number | null = null;
    let pytorchTuned: number | null = null;
    for (let rep = 0; rep < reps; rep++) {
      const measureOurs = (): void => {
        const o = run(process.execPath, ['--import', 'tsx', 'bench/train-worker.ts', ...common], threads);
        if (typeof o === 'string') throw new Error(`sparse-soups ${model} failed: ${o}`);
        ours = Math.max(ours, o.samples_per_s);
        libtorch = o.libtorch ?? libtorch;
      };
      const measurePeer = (): void => {
        const p = run(python, ['bench/peer/train_models.py', ...common], threads);
        if (typeof p === 'string') console.error(`peer failed (run scripts/setup-bench.sh to install python3-torch): ${p}`);
        else {
          pytorch = Math.max(pytorch ?? 0, p.samples_per_s);
          torch = p.torch ?? torch;
        }
        if (!tunedPeer) return;
        const q = run(python, ['bench/peer/train_models.py', ...common], threads, TUNED_MALLOC);
        if (typeof q !== 'string') pytorchTuned = Math.max(pytorchTuned ?? 0, q.samples_per_s);
      };
      if (rep % 2 === 0) {
        measureOurs();
        measurePeer();
      } else {
        measurePeer();
        measureOurs();
      }
    }
    const p = pytorch as number | null;
    const row: Row = { model, threads, ours, pytorch: p, ratio: p ? ours / p : null };
    if (tunedPeer) {
      const q = pytorchTuned as number | null;
      Object.assign(row, { pytorchTuned: q, ratioTuned: q ? ours / q : null });
    }
    rows.push(row);
    console.error(`${model} @ ${threads} thread(s): ours ${ours.toFixed(0)}/s, PyTorch ${p?.toFixed(0) ?? 'n/a'}/s`);
  }
}

console.log(
  `training samples/s, batch ${batch}, best of ${reps}; sparse-soups on libtorch ${libtorch}, PyTorch ${torch}; ` +
    `${cpus().length} cores, load ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
);
const tunedHead = tunedPeer ? ' | PyTorch, tuned malloc | ratio to tuned' : '';
console.log(`model    | threads | sparse-soups | PyTorch | ratio${tunedHead}`);
console.log(`---------|---------|--------------|---------|------${tunedPeer ? '|----------------------|---------------' : ''}`);
for (const r of rows) {
  const tuned = tunedPeer ? ` | ${(r.pytorchTuned?.toFixed(0) ?? 'n/a').padStart(20)} | ${r.ratioTuned?.toFixed(3) ?? 'n/a'}` : '';
  console.log(
    `${r.model.padEnd(8)} | ${String(r.threads).padStart(7)} | ${r.ours.toFixed(0).padStart(12)} | ${(r.pytorch?.toFixed(0) ?? 'n/a').padStart(7)} | ${r.ratio?.toFixed(3) ?? 'n/a'}${tuned}`,
  );
}
const worst = (model: string): number | null => {
  const rs = rows.filter((r) => r.model === model && r.ratio !== null).map((r) => r.ratio as number);
  return rs.length ? Number(Math.min(...rs).toFixed(3)) : null;
};
const summary: Record<string, unknown> = {};
for (const model of new Set(rows.map((r) => r.model))) summary[`${model}_ratio`] = worst(model);
console.log(JSON.stringify({ ...summary, libtorch, torch, batch: Number(batch), device: values.device, rows }));
