/** `sparse-soups worker --redis <url>`: take retrain and merge jobs from the BullMQ queues. */
import type { Command } from 'commander';
import { parseDevices } from './options.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('take retrain and merge jobs from the BullMQ queues (run on every machine that should work)')
    .requiredOption('--redis <url>', 'redis://host:port of the queues')
    .option('--concurrency <n>', 'jobs at once (N > 1 runs N worker processes)', (v) => Number.parseInt(v, 10))
    .option('--threads <n>', 'libtorch threads per job (default: cores / concurrency)', (v) => Number.parseInt(v, 10))
    .option(
      '--devices <list>',
      'CUDA devices of the worker processes, round-robin (0,1; repeat one to share it: 0,0); concurrency defaults to their number; jobs of CPU configs stay on the CPU',
      parseDevices,
    )
    .action(async (o: { redis: string; concurrency?: number; threads?: number; devices?: string[] }) => {
      const { runWorker } = await import('../exec/queue/worker.js'); // bullmq and libtorch: loaded only for this command
      const stop = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
      process.stderr.write(`worker: taking jobs from ${o.redis} (SIGINT/SIGTERM to stop after the running job)\n`);
      await runWorker({
        redis: o.redis,
        concurrency: o.concurrency,
        threads: o.threads,
        devices: o.devices,
        signal: stop.signal,
        onEvent: (e) => process.stderr.write(`worker: ${JSON.stringify(e)}\n`),
      });
    });
}
