/**
 * Timing and output for the kernel benchmarks (max-pool, small-conv): the
 * median of `repeats` calls after 3 warm-up calls, in milliseconds, and the
 * table and JSON line they print.
 */
import { cpus, loadavg } from 'node:os';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Median wall milliseconds of `fn` over `repeats` calls, after 3 untimed ones. */
export function timeMs(fn: () => void, repeats: number): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** One case of a kernel bench: median ms per side, and libtorch's time over ours. */
export interface KernelRow {
  label: string;
  ms: Record<string, number>;
  ratio: number;
}

/** Prints a kernel bench's table (sparse-soups against libtorch per case) under `title`, then its JSON line. */
export function printKernelRows(bench: string, title: string, rows: KernelRow[], threads: number, repeats: number): void {
  console.log(`# ${title}; ${threads} thread(s), ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}; median of ${repeats}`);
  console.log('| case | sparse-soups ms | libtorch ms | × |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(`| ${r.label} | ${r.ms['sparse-soups'].toFixed(2)} | ${r.ms.libtorch.toFixed(2)} | ${r.ratio.toFixed(2)} |`);
  console.log(
    JSON.stringify({
      bench,
      threads,
      repeats,
      loadAverage: loadavg()[0],
      rows: rows.map((r) => ({ case: r.label, ms: r.ms, speedup: Number(r.ratio.toFixed(3)) })),
    }),
  );
}
