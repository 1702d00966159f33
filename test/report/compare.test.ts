// `sparse-soups compare`: replicates of a tiny run (test/helpers/tiny-run.ts,
// MLP, one epoch, IMP on) made once with runSms for seeds 0, 1, 2; then the
// statistics against the runs' own summary rows, the verdicts, the refusal
// of runs that are not replicates, and the output files (JSON, CSV, HTML
// with its SVG plots, markdown).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseSmsConfig, normalizedConfigJson } from '../../src/sms/config.js';
import { runSms } from '../../src/sms/pipeline.js';
import { setNumThreads } from '../../src/tensor/create.js';
import { compareRuns, firstDifference, headlineRows, loadReplicates, type Comparison } from '../../src/report/compare.js';
import { compareCsv, compareMarkdown, defaultCompareDir, writeComparison } from '../../src/report/compare-output.js';
import { buildComparePage } from '../../src/report/compare-page.js';
import { loadRun } from '../../src/report/load.js';
import { summaryRows } from '../../src/run/summary.js';
import { meanConfidenceInterval, pairedComparison } from '../../src/metrics/stats.js';
import { NotReplicatesError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const SEEDS = [0, 1, 2];
const PLOTS = ['plot-paired-test', 'plot-paired-ood', 'plot-test-accuracy-ci', 'plot-ood-accuracy-ci'];
let root = '';
const dirs: string[] = [];

before(async () => {
  setNumThreads(1);
  root = mkdtempSync(join(tmpdir(), 'compare-test-'));
  for (const seed of SEEDS) {
    const config = parseSmsConfig(tinyRunConfig({ name: 'cmp', seed, baselines: { imp: true } }));
    const dir = join(root, 'runs', `cmp-seed${seed}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), normalizedConfigJson(config));
    await runSms(config, { workDir: dir });
    dirs.push(dir);
  }
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const copyRun = (from: string, name: string): string => {
  const to = join(root, 'runs', name);
  mkdirSync(to, { recursive: true });
  for (const f of ['config.json', 'results.json']) cpSync(join(from, f), join(to, f));
  return to;
};

test('mean, std and CI of every summary row over the runs; paired soup-vs-baseline comparisons', async () => {
  const runs = await loadReplicates(dirs);
  const c = compareRuns(runs);
  assert.equal(c.name, 'cmp');
  assert.deepEqual(c.runs.map((r) => r.seed), SEEDS);
  assert.deepEqual(c.notes, []);
  assert.ok(!('seed' in c.sharedConfig) && !('seeds' in c.sharedConfig));

  // Same (phase, model) rows as one run's summary table, and each statistic from the per-run values.
  const perRun = runs.map((r) => summaryRows(r.results));
  assert.deepEqual(c.summaries.map((s) => [s.phase, s.model]), perRun[0].map((r) => [r.phase, r.model]));
  for (const [i, s] of c.summaries.entries()) {
    for (const metric of ['testAccuracy', 'oodAccuracy', 'ece'] as const) {
      const values = perRun.map((rows) => rows[i][metric]);
      const expected = meanConfidenceInterval(values);
      assert.deepEqual(s[metric].values, values);
      assert.equal(s[metric].n, 3);
      assert.equal(s[metric].mean, expected.mean);
      assert.equal(s[metric].std, expected.std);
      // The interval, cut to [0, 1].
      assert.equal(s[metric].low, Math.max(0, expected.low));
      assert.equal(s[metric].high, Math.min(1, expected.high));
      assert.ok(s[metric].low <= s[metric].mean && s[metric].mean <= s[metric].high);
    }
    assert.equal(s.retrainEpochs, perRun[0][i].retrainEpochs);
  }
  // Retraining epochs per method: 1 per phase and candidate here.
  assert.deepEqual(
    c.summaries.filter((s) => s.model === 'SMS uniform').map((s) => s.retrainEpochs),
    [2, 4],
  );

  // 2 phases × 2 metrics × 2 soups × 3 baselines, each the paired comparison of the per-run values.
  assert.equal(c.paired.length, 24);
  assert.deepEqual([...new Set(c.paired.map((p) => p.baseline))], ['IMP mean', 'IMP best (val)', 'best candidate (val)']);
  for (const p of c.paired) {
    const soup = c.summaries.find((s) => s.phase === p.phase && s.model === p.model)!;
    const base = c.summaries.find((s) => s.phase === p.phase && s.model === p.baseline)!;
    const expected = pairedComparison(soup[p.metric].values, base[p.metric].values);
    assert.deepEqual({ ...p }, { ...expected, phase: p.phase, metric: p.metric, model: p.model, baseline: p.baseline, modelRetrainEpochs: soup.retrainEpochs, baselineRetrainEpochs: base.retrainEpochs });
    assert.ok(['holds', 'does not hold', 'inconclusive'].includes(p.verdict));
  }
  const headline = headlineRows(c);
  assert.equal(headline.length, 6);
  assert.ok(headline.every((p) => p.phase === 2 && p.model === 'SMS uniform'));
});

test('one run: no interval, every verdict inconclusive, and a note saying why', async () => {
  const c = compareRuns(await loadReplicates(dirs.slice(0, 1)));
  assert.ok(c.summaries.every((s) => s.testAccuracy.n === 1 && Number.isNaN(s.testAccuracy.low)));
  assert.ok(c.paired.length > 0 && c.paired.every((p) => p.verdict === 'inconclusive' && /only 1 replicate/.test(p.reason)));
  assert.match(c.notes.join(' '), /Only one run/);
  assert.match(compareMarkdown(c), /inconclusive \(n < 2\)/);
});

test('runs that are not replicates are refused, naming the first differing key and both directories', async () => {
  const other = copyRun(dirs[1], 'cmp-other');
  const config = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
  config.retrain.weightDecay = 0.001;
  config.data.batchSize = 64;
  writeFileSync(join(other, 'config.json'), JSON.stringify(config));
  await assert.rejects(writeComparison([dirs[0], other], { out: join(root, 'never') }), (e: Error) => {
    assert.ok(e instanceof NotReplicatesError, `${e.name}: ${e.message}`);
    assert.equal(e.key, 'data.batchSize'); // before retrain.weightDecay in key order
    assert.deepEqual(e.dirs, [dirs[0], other]);
    assert.equal(e.message, `not replicates of one experiment: data.batchSize is 32 in ${dirs[0]} but 64 in ${other}; replicates differ only in seed (run one config with seeds: [...])`);
    return true;
  });
  assert.ok(!existsSync(join(root, 'never')), 'nothing written');

  // A copy of a run is the same seed twice; the same directory twice is refused too.
  const twin = copyRun(dirs[2], 'cmp-twin');
  await assert.rejects(loadReplicates([dirs[2], twin]).then(compareRuns), /both have seed 2: the same run twice/);
  await assert.rejects(loadReplicates([dirs[0], dirs[0]]).then(compareRuns), /is listed twice/);
  // A missing key is shown as absent; arrays compare whole.
  assert.deepEqual(firstDifference({ a: { b: 1 } }, { a: {} }), { key: 'a.b', a: 1, b: undefined });
  assert.deepEqual(firstDifference({ x: [1, 2] }, { x: [1, 3] }), { key: 'x', a: [1, 2], b: [1, 3] });
  assert.equal(firstDifference({ x: [1, 2] }, { x: [1, 2] }), null);
});

test('writeComparison: compare.json, compare.csv and compare.html with its plots, in the default directory', async () => {
  const out = await writeComparison(dirs, { generatedAt: new Date(0) });
  assert.equal(out.dir, defaultCompareDir(dirs, 'cmp'));
  assert.equal(dirname(out.dir), join(root, 'runs'));
  assert.match(basename(out.dir), /^cmp-compare-[0-9a-f]{8}$/);
  // The same runs in another order: the same directory.
  assert.equal(defaultCompareDir([...dirs].reverse(), 'cmp'), out.dir);
  assert.deepEqual(readdirSync(out.dir).sort(), ['compare.csv', 'compare.html', 'compare.json']);
  assert.deepEqual(out.warnings, []);

  const json = JSON.parse(readFileSync(out.files.json, 'utf8')) as Comparison;
  assert.equal(json.summaries.length, out.comparison.summaries.length);
  assert.equal(json.paired.length, 24);
  assert.equal(json.paired[0].verdict, out.comparison.paired[0].verdict);
  assert.deepEqual(json.runs, out.comparison.runs);

  const csv = readFileSync(out.files.csv, 'utf8').trim().split('\n');
  assert.equal(csv[0], 'kind,phase,sparsity,model,baseline,metric,n,mean,std,ci_low,ci_high,verdict,retrain_epochs,baseline_retrain_epochs,values');
  assert.equal(csv.length, 1 + 3 * out.comparison.summaries.length + 24);
  assert.equal(csv.filter((l) => l.startsWith('paired,')).length, 24);
  assert.match(csv.find((l) => l.startsWith('paired,2,') && l.includes('"IMP mean",testAccuracy'))!, /^paired,2,0\.75,"SMS uniform","IMP mean",testAccuracy,3,/);
  assert.equal(compareCsv(out.comparison), readFileSync(out.files.csv, 'utf8'));

  const html = readFileSync(out.files.html, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<title>SMS comparison: cmp<\/title>/);
  assert.equal(html.match(/<svg[\s>]/g)?.length, 4);
  for (const id of PLOTS) assert.ok(html.includes(`<svg id="${id}"`), `plot ${id}`);
  assert.doesNotMatch(html, /<script|<link|<img/i);
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'duplicate ids');
  for (const dir of dirs) assert.ok(html.includes(dir), `run ${dir} listed`);
  for (const text of ['SMS uniform − IMP mean', 'difference in test accuracy (points)', 'phase (sparsity)', 'holds', 'inconclusive']) {
    assert.ok(html.includes(text), text);
  }
  // Same input, same page.
  const again = await buildComparePage(out.comparison, { generatedAt: new Date(0) });
  assert.equal(again.html, html);
  assert.deepEqual(again.plots, PLOTS);

  const md = out.markdown.split('\n');
  assert.ok(md.includes('| phase | sparsity % | model | retrain epochs | test acc % | OOD acc % | ECE % |'));
  assert.ok(md.includes('| phase | metric | comparison | retrain epochs | mean difference | 95% CI | verdict |'));
  assert.equal(md.filter((l) => / \| SMS (uniform|greedy) - /.test(l)).length, 24);
  assert.match(out.markdown, /^3 replicates of cmp \(seeds 0, 1, 2\)/);
  assert.match(out.markdown, /\| 2 \| 75\.00 \| SMS uniform \| 4 \| \d+\.\d\d ± \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \|/);
  assert.match(out.markdown, /Phase 2 \(75\.00% sparse\), SMS uniform against:\n- IMP mean, test acc: [+-]\d+\.\d\d points /);

  // --out elsewhere.
  const custom = join(root, 'custom-out');
  const other = await writeComparison(dirs.slice(0, 2), { out: custom });
  assert.equal(other.dir, custom);
  assert.ok(existsSync(join(custom, 'compare.html')));
});

test('runs without OOD sets: no OOD plots or OOD comparisons', async () => {
  const noOod = dirs.map((d, i) => {
    const copy = copyRun(d, `cmp-no-ood-${i}`);
    const results = JSON.parse(readFileSync(join(copy, 'results.json'), 'utf8'));
    const drop = (m: { ood?: unknown[]; oodMeanAccuracy?: number | null } | null | undefined): void => {
      if (m) Object.assign(m, { ood: [], oodMeanAccuracy: null });
    };
    drop(results.dense);
    for (const p of results.phases) {
      for (const c of [...p.candidates, ...(p.imp?.chains ?? [])]) drop(c.metrics);
      for (const m of [p.candidateMean, p.ensemble, p.imp?.mean, p.soups.uniform.metrics, p.soups.greedy.metrics, p.pruning?.metrics]) drop(m);
    }
    writeFileSync(join(copy, 'results.json'), JSON.stringify(results));
    return copy;
  });
  await loadRun(noOod[0]);
  const out = await writeComparison(noOod);
  assert.equal(out.comparison.paired.length, 12);
  assert.ok(out.comparison.paired.every((p) => p.metric === 'testAccuracy'));
  const html = readFileSync(out.files.html, 'utf8');
  assert.equal(html.match(/<svg[\s>]/g)?.length, 2);
  assert.match(html, /No mean OOD accuracy: the runs did not compute it/);
  assert.deepEqual(out.warnings, []);
});
