/**
 * Resident memory of a process tree, read from Linux's /proc: a process and
 * all its descendants (child processes of an executor included), for the
 * benchmarks' peak-RSS columns. GNU time's "maximum resident set size" is
 * that of the largest single process, not of the tree.
 *
 * @example
 * const sampler = new TreeRssSampler(child.pid!, 200);
 * child.on('close', () => console.log(sampler.stop().peakKiB));
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Whether this machine has /proc to read. */
export const procAvailable = (): boolean => existsSync('/proc/self/status');

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the process exited between listing and reading
  }
}

/** Direct children of `pid`: /proc/<pid>/task/<tid>/children when the kernel has it, else a scan of every /proc/<n>/stat. */
function childrenOf(pid: number): number[] {
  const tasks = readOrNull(`/proc/${pid}/task/${pid}/children`);
  if (tasks !== null) {
    const out = new Set<number>();
    let threads: string[] = [];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
    for (const tid of threads) {
      const list = tid === String(pid) ? tasks : readOrNull(`/proc/${pid}/task/${tid}/children`);
      for (const c of (list ?? '').split(/\s+/)) if (c !== '') out.add(Number(c));
    }
    return [...out];
  }
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readOrNull(`/proc/${name}/stat`);
    // Fields after the parenthesized command name: state, ppid, ...
    const ppid = stat === null ? NaN : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(name));
  }
  return out;
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const all: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    all.push(p);
    todo.push(...childrenOf(p));
  }
  return all;
}

/** VmRSS of one process, KiB (0 once it has exited). */
export function rssKiB(pid: number): number {
  const status = readOrNull(`/proc/${pid}/status`);
  const m = status === null ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : 0;
}

/** Summed RSS of the tree under `pid`, KiB; `excludeRoot` leaves out `pid` itself (a wrapper such as /usr/bin/time). */
export function treeRssKiB(pid: number, excludeRoot = false): number {
  return processTree(pid).reduce((sum, p) => sum + (excludeRoot && p === pid ? 0 : rssKiB(p)), 0);
}

/** Samples a tree's summed RSS every `intervalMs` and keeps the peak. */
export class TreeRssSampler {
  private peak = 0;
  private samples = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    readonly pid: number,
    intervalMs: number,
    private readonly excludeRoot = false,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    this.peak = Math.max(this.peak, treeRssKiB(this.pid, this.excludeRoot));
    this.samples++;
  }

  /** Stops sampling; the peak in KiB and how many samples it is the maximum of. */
  stop(): { peakKiB: number; samples: number } {
    clearInterval(this.timer);
    return { peakKiB: this.peak, samples: this.samples };
  }
}
