// ProcessExecutor: candidates retrained in child processes give the same
// checkpoints and soups as inline, bit for bit, at the same thread count; a
// job that throws or a child that dies rejects the run with the job named,
// and no child outlives a failure or close().
import { test } from 'node:test';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getNumThreads, setNumThreads } from '../../src/tensor/index.js';
import { parseSmsConfig, type SmsConfig } from '../../src/sms/config.js';
import type { SmsResults } from '../../src/sms/pipeline.js';
import { retrainCandidate, type RetrainJob } from '../../src/sms/retrain.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { buildModel } from '../../src/sms/context.js';
import { pruneCheckpoint } from '../../src/sms/masks.js';
import { runLayout } from '../../src/sms/layout.js';
import type { PhaseMergeSpec } from '../../src/sms/plan.js';
import type { ScoreTask } from '../../src/sms/scoring.js';
import { saveCheckpoint, verifiedCheckpoint } from '../../src/checkpoints/store.js';
import { ProcessExecutor, RetrainJobError, WorkerExitError, childWorkerPath, childExecArgv } from '../../src/exec/process-executor.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const execFileAsync = promisify(execFile);
const config = parseSmsConfig(tinyRunConfig({ name: 'test-processes', model: { options: { hiddenSizes: [64] } } }));
// The bit-for-bit comparison with inline also covers the baselines that the children score (IMP chains) or that use their predictions (ensemble).
const fullConfig = parseSmsConfig(
  tinyRunConfig({ name: 'test-processes-full', model: { options: { hiddenSizes: [64] } }, baselines: { imp: true, ensemble: true } }),
);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An orphan that exited stays a zombie until its new parent reaps it: dead all the same.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

const srcUrl = (path: string): string => new URL(`../../src/${path}`, import.meta.url).href;

/** A parent checkpoint (the initialization) and its 50% mask: inputs for hand-made jobs. */
async function jobInputs(dir: string, cfg: SmsConfig): Promise<Pick<RetrainJob, 'parent' | 'mask'>> {
  const model = buildModel(cfg, cfg.seed);
  try {
    const parent = await saveCheckpoint(join(dir, 'parent.safetensors'), model.stateDict());
    const pruned = await pruneCheckpoint(cfg, parent, null, 0.5, 1, join(dir, 'mask.safetensors'));
    return { parent, mask: pruned.mask };
  } finally {
    model.dispose();
  }
}

test('the child entry is resolved beside the executor module: .ts from sources, .js from dist', () => {
  assert.equal(childWorkerPath('file:///repo/src/exec/process-executor.ts'), '/repo/src/exec/child-worker.ts');
  assert.equal(childWorkerPath('file:///repo/dist/src/exec/process-executor.js'), '/repo/dist/src/exec/child-worker.js');
  assert.throws(() => new ProcessExecutor({ concurrency: 0 }), /concurrency must be a positive integer/);
});

test("the child gets the parent's loaders, not its test runner, inspector or -e code", () => {
  assert.deepEqual(childExecArgv(['--import', 'tsx', '--test-concurrency=1', '--test', '--enable-source-maps']), [
    '--import',
    'tsx',
    '--enable-source-maps',
  ]);
  assert.deepEqual(childExecArgv(['--import', 'tsx', '--input-type=module', '-e', 'code()', '--inspect-brk=9229']), ['--import', 'tsx']);
  assert.deepEqual(childExecArgv(['--test-reporter', 'spec', '--max-old-space-size=4096']), ['--max-old-space-size=4096']);
});

/**
 * Runs runSms in a fresh node process with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1.
 * OpenBLAS sizes its thread pool from the environment when it loads and
 * setNumThreads does not resize it, so a reference run in this (test) process
 * would use as many BLAS threads as cores and differ in the last bits.
 */
async function runSmsInFreshProcess(
  mode: 'inline' | 'processes',
  workDir: string,
): Promise<{ results: SmsResults; pids: number[]; progress: number; marks: string[] }> {
  const code = `
    const [mode, workDir, configJson] = process.argv.slice(1);
    const { setNumThreads } = await import(${JSON.stringify(srcUrl('tensor/index.ts'))});
    const { runSms } = await import(${JSON.stringify(srcUrl('sms/pipeline.ts'))});
    const { InlineExecutor } = await import(${JSON.stringify(srcUrl('sms/executor.ts'))});
    const { ProcessExecutor } = await import(${JSON.stringify(srcUrl('exec/process-executor.ts'))});
    setNumThreads(1);
    const pids = new Set();
    // The order of milestones: dense-done, phase-start/done, and when each retrain job started (processes).
    const marks = [];
    const onJobStart = (job, pid) => marks.push('start ' + job.kind + ' ' + job.phase);
    // Every child the pool started (a child may run only score tasks: the dense model's, the merges').
    const onWorkerReady = (pid) => pids.add(pid);
    const executor = mode === 'inline' ? new InlineExecutor() : new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, onJobStart, onWorkerReady });
    let progress = 0;
    const onEvent = (e) => {
      if (e.type === 'progress' && e.progress.kind === 'sms') progress++;
      if (e.type === 'dense-done') marks.push('dense-done');
      if (e.type === 'phase-start') marks.push('phase-start ' + e.phase);
      if (e.type === 'phase-done') marks.push('phase-done ' + e.result.phase);
    };
    try {
      const results = await runSms(JSON.parse(configJson), { workDir, executor, onEvent });
      const live = mode === 'inline' ? [] : executor.pids();
      if (live.length !== pids.size) throw new Error('the pool should stay up between phases: ' + live + ' vs ' + [...pids]);
      process.stdout.write('\\n' + JSON.stringify({ results, pids: [...pids], progress, marks }) + '\\n');
    } finally {
      await executor.close();
    }`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: '1',
    OPENBLAS_NUM_THREADS: '1',
    MKL_NUM_THREADS: '1',
  };
  delete env.NODE_TEST_CONTEXT;
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code, mode, workDir, JSON.stringify(fullConfig)],
    {
      env,
      maxBuffer: 64 << 20,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    results: SmsResults;
    pids: number[];
    progress: number;
    marks: string[];
  };
}

test('2 child processes of 1 thread give the inline (1 thread) checkpoints and soups bit for bit', async () => {
  const inlineDir = mkdtempSync(join(tmpdir(), 'sms-inline-'));
  const processDir = mkdtempSync(join(tmpdir(), 'sms-procs-'));
  try {
    const [inline, procs] = [await runSmsInFreshProcess('inline', inlineDir), await runSmsInFreshProcess('processes', processDir)];
    assert.equal(procs.pids.length, 2, 'two children, reused for phase 2');
    assert.ok(procs.progress >= 4, 'progress of every candidate reaches onEvent');
    for (const pid of procs.pids) assert.ok(!isAlive(pid), `child ${pid} ended by close()`);

    for (let p = 0; p < fullConfig.pruning.phases; p++) {
      const [a, b] = [inline.results.phases[p], procs.results.phases[p]];
      for (let i = 0; i < 2; i++) {
        const ca = (await verifiedCheckpoint(a.candidates[i].checkpoint))!;
        const cb = (await verifiedCheckpoint(b.candidates[i].checkpoint))!;
        assert.equal(cb.sha256, ca.sha256, `phase ${p + 1} candidate ${i}: same checkpoint bytes`);
        assert.equal(b.candidates[i].validationAccuracy, a.candidates[i].validationAccuracy);
      }
      assert.deepEqual(b.soups.uniform.metrics, a.soups.uniform.metrics, `phase ${p + 1}: uniform soup`);
      assert.deepEqual(b.soups.greedy.metrics, a.soups.greedy.metrics, `phase ${p + 1}: greedy soup`);
      assert.ok(existsSync(`${b.candidates[0].checkpoint}.predictions.safetensors`), 'the children scored their candidates');
      assert.ok(!existsSync(`${a.candidates[0].checkpoint}.predictions.safetensors`), 'inline, the merge scored them');
    }
    // Every score, the IMP chains' and the ensemble's included, whoever computed it.
    const comparable = (r: SmsResults, dir: string): unknown =>
      JSON.parse(JSON.stringify(r).replaceAll(dir, '<run>'), (key, value: unknown) => (key === 'seconds' ? undefined : value));
    assert.ok(inline.results.phases[1].imp !== null && inline.results.phases[1].ensemble !== null);
    assert.deepEqual(comparable(procs.results, processDir), comparable(inline.results, inlineDir));

    // Inline, one step after another; with processes, the dense model is scored beside phase 1 and phase 2's IMP jobs start during phase 1's merge.
    assert.deepEqual(inline.marks, ['dense-done', 'phase-start 1', 'phase-done 1', 'phase-start 2', 'phase-done 2']);
    const at = (mark: string): number => {
      const i = procs.marks.indexOf(mark);
      assert.ok(i >= 0, `${mark} in ${procs.marks.join(', ')}`);
      return i;
    };
    assert.ok(at('start imp 2') < at('phase-done 1'), `IMP's phase 2 starts before phase 1 is merged: ${procs.marks.join(', ')}`);
    assert.ok(at('start sms 2') > at('phase-done 1'), 'the SMS candidates of phase 2 start from its soup');
    assert.ok(
      at('phase-start 1') < at('dense-done') && at('dense-done') < at('phase-done 1'),
      `the dense model is scored during phase 1: ${procs.marks.join(', ')}`,
    );
    assert.equal(procs.marks.filter((m) => m === 'dense-done').length, 1);
  } finally {
    rmSync(inlineDir, { recursive: true, force: true });
    rmSync(processDir, { recursive: true, force: true });
  }
});

test('close() ends idle children and resolves (the pool is reused until then)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-close-'));
  const executor = new ProcessExecutor({ concurrency: 1, threadsPerWorker: 1 });
  try {
    const inputs = await jobInputs(dir, config);
    const job = (i: number): RetrainJob => ({
      config,
      phase: 1,
      spec: candidateSpecs(config)[0],
      kind: 'sms',
      ...inputs,
      output: join(dir, `c${i}.safetensors`),
    });
    const [first] = await executor.run([job(0)]);
    const pids = executor.pids();
    const [second] = await executor.run([job(1)]);
    assert.deepEqual(executor.pids(), pids, 'the same child ran the second job');
    assert.equal(second.checkpoint.sha256, first.checkpoint.sha256, 'the same job gives the same bytes in a reused child');
    // Regression: close() once waited for a 'close' event that never comes after disconnect().
    await executor.close();
    assert.deepEqual(executor.pids(), []);
    for (const pid of pids) assert.ok(!isAlive(pid), `child ${pid} ended by close()`);
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runs and score tasks at once share one pool of `concurrency` children; after a failure the next run starts afresh', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-pool-'));
  const ready: number[] = [];
  const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, onWorkerReady: (pid) => ready.push(pid) });
  try {
    const inputs = await jobInputs(dir, config);
    const [spec] = candidateSpecs(config);
    const job = (name: string, over: Partial<RetrainJob> = {}): RetrainJob => ({
      config,
      phase: 1,
      spec,
      kind: 'sms',
      ...inputs,
      output: join(dir, `${name}.safetensors`),
      ...over,
    });
    const task: ScoreTask = { config, label: 'the parent', checkpoint: inputs.parent, recalibrate: true, validation: true };
    const [a, b, scored] = await Promise.all([executor.run([job('a0'), job('a1')]), executor.run([job('b0')]), executor.score(task)]);
    assert.equal(ready.length, 2, 'four tasks at once on two children');
    assert.deepEqual(
      [a[1].checkpoint.sha256, b[0].checkpoint.sha256],
      [a[0].checkpoint.sha256, a[0].checkpoint.sha256],
      'the same job gives the same bytes whichever run it came in',
    );
    assert.deepEqual(await executor.score(task), scored, 'a score task beside retrains gives what it gives alone');
    assert.ok(scored.validationAccuracy !== null && scored.validationAccuracy > 0);

    // One failure ends every task under way, in every run, and the children; each run reports that failure.
    const bad = job('bad', { config: { ...config, model: { name: 'no-such-model', options: {} } } });
    const long = job('long', { spec: { ...spec, epochs: 50 } });
    const outcomes = await Promise.allSettled([executor.run([bad]), executor.run([long])]);
    assert.ok(outcomes[0].status === 'rejected' && outcomes[0].reason instanceof RetrainJobError, String(outcomes[0].status));
    assert.ok(outcomes[1].status === 'rejected' && outcomes[1].reason === outcomes[0].reason, 'the other run was stopped, and says why');
    assert.deepEqual(executor.pids(), []);
    assert.ok(!existsSync(long.output), 'the long job was stopped, not finished');
    const [after] = await executor.run([job('after')]);
    assert.equal(after.checkpoint.sha256, a[0].checkpoint.sha256, 'the next run gets fresh children');
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a score task split over 2 children gives the metrics of one child scoring it whole; a merge runs at mergeThreads, then the count is restored', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-parts-'));
  const split = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1 });
  const whole = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, scoreParts: 1 });
  try {
    assert.equal(split.scoreParts, 2, 'default: one part per child, up to 4');
    assert.equal(split.mergeThreads, Math.max(1, availableParallelism() - 2), 'default: the cores the children leave');
    const inputs = await jobInputs(dir, config);
    // The tiny config has the test set and one OOD set: one each.
    const task: ScoreTask = {
      config,
      label: 'the pruned parent',
      checkpoint: inputs.parent,
      mask: inputs.mask,
      recalibrate: true,
      validation: true,
    };
    const [a, b] = await Promise.all([split.score(task), whole.score(task)]);
    assert.deepEqual(a, b);
    assert.equal(a.metrics.ood.length, 1);

    setNumThreads(2);
    const pruned = await pruneCheckpoint(config, inputs.parent, null, 0.5, 1, join(dir, 'mask2.safetensors'));
    const spec: PhaseMergeSpec = { config, phase: 1, targetSparsity: 0.5, runDir: dir, mask: pruned, parent: inputs.parent };
    await assert.rejects(split.merge(spec, {}), /phase 1/);
    assert.equal(getNumThreads(), 2, 'the thread count from before the merge, after it failed');
  } finally {
    await split.close();
    await whole.close();
    setNumThreads(1);
    rmSync(dir, { recursive: true, force: true });
  }
  for (const key of ['mergeThreads', 'scoreParts'] as const) {
    assert.throws(() => new ProcessExecutor({ [key]: 0 }), new RegExp(`ProcessExecutor: ${key} must be a positive integer, got 0`));
  }
});

test('prepare() starts every child and loads the data before the first task; a child that cannot load it rejects, naming the config', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-prepare-'));
  const ready: number[] = [];
  const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, onWorkerReady: (pid) => ready.push(pid) });
  try {
    await executor.prepare(config);
    assert.equal(ready.length, 2, 'both children started');
    assert.equal(executor.pids().length, 2);
    const inputs = await jobInputs(dir, config);
    const [spec] = candidateSpecs(config);
    await executor.run([{ config, phase: 1, spec, kind: 'sms', ...inputs, output: join(dir, 'c.safetensors') }]);
    assert.equal(ready.length, 2, 'the job ran on a prepared child, no new one');

    const missing = { ...config, name: 'no-data', data: { ...config.data, dir: join(dir, 'no-such-dir') } };
    await assert.rejects(executor.prepare(missing), (e: unknown) => {
      assert.ok(e instanceof RetrainJobError, String(e));
      assert.match(e.message, /^loading the data of no-data: /);
      return true;
    });
    assert.deepEqual(executor.pids(), [], 'the failure ended the children');
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job that throws rejects the run with its message and type; every child is ended', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-err-'));
  const seen = new Set<number>();
  const executor = new ProcessExecutor({
    concurrency: 2,
    threadsPerWorker: 1,
    onJobStart: (_, pid) => seen.add(pid),
  });
  try {
    const inputs = await jobInputs(dir, config);
    const [good, bad] = candidateSpecs(config);
    const jobs: RetrainJob[] = [
      {
        config,
        phase: 1,
        spec: { ...good, epochs: 50 },
        kind: 'sms',
        ...inputs,
        output: join(dir, 'c0.safetensors'),
      },
      {
        config: { ...config, model: { name: 'no-such-model', options: {} } },
        phase: 1,
        spec: bad,
        kind: 'sms',
        ...inputs,
        output: join(dir, 'c1.safetensors'),
      },
    ];
    const inlineError = await retrainCandidate({
      ...jobs[1],
      threads: 1,
    }).then(
      () => assert.fail('inline job should throw'),
      (e: Error) => e,
    );
    await assert.rejects(executor.run(jobs), (e: unknown) => {
      assert.ok(e instanceof RetrainJobError, `a RetrainJobError, got ${String(e)}`);
      assert.equal(e.errorType, 'ConfigError');
      assert.ok(e.message.startsWith('phase 1, sms candidate 1: ConfigError: '), e.message);
      assert.ok(e.message.endsWith(inlineError.message), e.message);
      return true;
    });
    assert.equal(seen.size, 2);
    assert.deepEqual(executor.pids(), []);
    for (const pid of seen) assert.ok(!isAlive(pid), `child ${pid} (the long job's too) ended after the failure`);
    assert.ok(!existsSync(jobs[0].output), 'the long job was stopped, not finished');
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a score task of the merge that fails rejects the merge naming what was scored; every child is ended', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-score-err-'));
  const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1 });
  try {
    const model = buildModel(config, config.seed);
    const parent = await saveCheckpoint(join(dir, 'parent.safetensors'), model.stateDict());
    model.dispose();
    mkdirSync(runLayout(dir).phaseDir(1), { recursive: true });
    const mask = await pruneCheckpoint(config, parent, null, 0.5, 1, runLayout(dir).mask(1));
    const jobs: RetrainJob[] = candidateSpecs(config).map((spec) => ({
      config,
      phase: 1,
      spec,
      kind: 'sms' as const,
      parent,
      mask: mask.mask,
      output: runLayout(dir).candidate(1, spec.index),
    }));
    const results = await executor.run(jobs);
    assert.ok(
      results.every((r) => r.scores !== undefined),
      'each child scored its candidate',
    );
    const pids = executor.pids();
    assert.equal(pids.length, 2);
    // Only the pruned parent's scoring reads the parent in the merge: a wrong checksum fails that task in a child.
    const spec: PhaseMergeSpec = {
      config,
      phase: 1,
      targetSparsity: 0.5,
      runDir: dir,
      mask,
      parent: { ...parent, sha256: '0'.repeat(64) },
    };
    await assert.rejects(executor.merge(spec, { 'sms/0': results[0], 'sms/1': results[1] }), (e: unknown) => {
      assert.ok(e instanceof RetrainJobError, `a RetrainJobError, got ${String(e)}`);
      assert.equal(e.errorType, 'CheckpointError');
      // Scored in 2 parts, one per child: the part that failed first is named.
      assert.match(e.message, /^phase 1, pruned parent \(part [12] of 2\): CheckpointError: .*parent\.safetensors: checksum/);
      return true;
    });
    assert.deepEqual(executor.pids(), []);
    for (const pid of pids) assert.ok(!isAlive(pid), `child ${pid} ended after the failure`);
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a child killed mid-job rejects the run naming the job and the signal; no child survives', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-kill-'));
  const seen = new Set<number>();
  const executor = new ProcessExecutor({
    concurrency: 2,
    threadsPerWorker: 1,
    onJobStart: (_, pid) => seen.add(pid),
  });
  try {
    const inputs = await jobInputs(dir, config);
    const jobs: RetrainJob[] = candidateSpecs(config).map((spec) => ({
      config,
      phase: 1,
      spec: { ...spec, epochs: 20 },
      kind: 'sms' as const,
      ...inputs,
      output: join(dir, `c${spec.index}.safetensors`),
    }));
    let victim = 0;
    const run = executor.run(jobs, () => {
      if (victim !== 0) return;
      victim = executor.pids()[0];
      process.kill(victim, 'SIGKILL');
    });
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof WorkerExitError, `a WorkerExitError, got ${String(e)}`);
      assert.match(e.message, /^phase 1, sms candidate [01]: worker process \d+ was killed by SIGKILL while running the job/);
      assert.ok(e.message.includes(String(victim)), e.message);
      return true;
    });
    assert.equal(seen.size, 2);
    for (const pid of seen) assert.ok(!isAlive(pid), `child ${pid} ended`);
    await assert.rejects(
      executor
        .run([])
        .then(() => executor.close())
        .then(() => executor.run(jobs)),
      /after close/,
    );
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an onProgress callback that throws fails the run, as inline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-cb-'));
  const executor = new ProcessExecutor({ concurrency: 1, threadsPerWorker: 1 });
  try {
    const inputs = await jobInputs(dir, config);
    const job: RetrainJob = {
      config,
      phase: 1,
      spec: candidateSpecs(config)[0],
      kind: 'sms',
      ...inputs,
      output: join(dir, 'c.safetensors'),
    };
    const pids: number[] = [];
    const throwing = (): void => {
      pids.push(...executor.pids());
      throw new RangeError('reporter broke');
    };
    await assert.rejects(executor.run([job], throwing), (e: unknown) => e instanceof RangeError && e.message === 'reporter broke');
    assert.ok(pids.length > 0 && !pids.some(isAlive), 'its child is ended');
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('children exit when their parent dies mid-job (SIGKILL: no close(), no exit handler)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-procs-orphan-'));
  try {
    const inputs = await jobInputs(dir, config);
    const jobs: RetrainJob[] = candidateSpecs(config).map((spec) => ({
      config,
      phase: 1,
      spec: { ...spec, epochs: 5000 }, // minutes of work: only the disconnect ends it in time
      kind: 'sms' as const,
      ...inputs,
      output: join(dir, `c${spec.index}.safetensors`),
    }));
    const code = `
      const { ProcessExecutor } = await import(${JSON.stringify(srcUrl('exec/process-executor.ts'))});
      const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1 });
      let told = false;
      await executor.run(JSON.parse(process.argv[1]), () => {
        if (!told) process.stdout.write(JSON.stringify(executor.pids()) + '\\n');
        told = true;
      });`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, JSON.stringify(jobs)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as number[]);
      });
      parent.on('exit', (c) => reject(new Error(`the parent exited (${c}) before its children started`)));
    });
    assert.equal(pids.length, 2);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const survivors = pids.filter(isAlive);
    for (const pid of survivors) process.kill(pid, 'SIGKILL');
    assert.deepEqual(survivors, [], 'children outlived their parent');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
