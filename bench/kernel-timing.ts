/**
 * Timing for the kernel benchmarks (max-pool, small-conv): the median of
 * `repeats` calls after 3 warm-up calls, in milliseconds.
 */
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
