// `sparse-soups report`: report.html from a run directory. The fixture in
// fixtures/report-run is a real run's config.json and results.json (MLP on a
// Fashion-MNIST subset, 2 phases, 3 candidates, 2 corruptions × 2
// severities); one more test makes a fresh tiny run on the synthetic data of
// test/helpers/tiny-run.ts, so a change of the results format is caught too.
// The page is opened in headless Chromium to check that the plots render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeReport, buildReport } from '../../src/report/report.js';
import { loadRun } from '../../src/report/load.js';
import { namespaceSvgIds } from '../../src/report/render.js';
import { summaryRows } from '../../src/run/summary.js';
import { DataFormatError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'report-run');
const CHROMIUM = '/usr/bin/chromium';
const PLOTS = ['plot-test-accuracy', 'plot-ood-accuracy', 'plot-candidate-spread', 'plot-ood-breakdown', 'plot-layer-sparsity'];

function fixtureCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-test-'));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;

/** Every http(s):// in the page, except SVG namespace declarations (names, not fetched). */
function externalReferences(html: string): string[] {
  return [...html.matchAll(/(\S*)(https?:\/\/[^\s"'<>)]*)/g)].filter((m) => !/xmlns(:\w+)?="$/.test(m[1])).map((m) => m[0]);
}

test('report.html: five inline SVG plots, the tables, the config, nothing external', async () => {
  const dir = fixtureCopy();
  try {
    const path = await writeReport(dir);
    assert.equal(path, join(dir, 'report.html'));
    const html = readFileSync(path, 'utf8');
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));

    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, new RegExp(`<title>SMS report: report-fixture</title>`));
    assert.ok(html.includes(results.configHash), 'config hash shown');
    assert.equal(count(html, /<svg[\s>]/g), 5);
    for (const id of PLOTS) assert.ok(html.includes(`<svg id="${id}"`), `plot ${id}`);

    // Self-contained: no scripts, stylesheets, fonts or images from anywhere; a CSP forbids loading anything.
    assert.deepEqual(externalReferences(html), []);
    assert.doesNotMatch(html, /<script|<link|<img|@import|@font-face|<iframe/i);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);

    // SVG ids are unique in the page (vega restarts its clip ids in every plot) and every url(#id) resolves.
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'duplicate ids');
    for (const [, ref] of html.matchAll(/url\(#([^)]+)\)/g)) assert.ok(ids.includes(ref), `dangling url(#${ref})`);

    // Summary: one row per (phase, model); greedy decisions: one row per candidate and phase.
    const summary = html.slice(html.indexOf('id="summary"'), html.indexOf('id="config"'));
    assert.equal(count(summary, /<tr[ >]/g) - 1, summaryRows((await loadRun(dir)).results).length);
    const decisions = results.phases.flatMap(
      (p: { soups: { greedy: { decisions: { accepted: boolean }[] } } }) => p.soups.greedy.decisions,
    );
    const greedy = html.slice(html.indexOf('id="greedy"'), html.indexOf('id="ood"'));
    assert.equal(count(greedy, /class="accepted"/g), decisions.filter((d: { accepted: boolean }) => d.accepted).length);
    assert.equal(count(greedy, /class="rejected"/g), decisions.filter((d: { accepted: boolean }) => !d.accepted).length);
    for (const header of ['test acc %', 'OOD acc %', 'ECE %', 'soup val acc before %', 'soup val acc with it %', 'L2 to mean']) {
      assert.ok(html.includes(`<th class="num">${header}</th>`), header);
    }
    assert.ok(html.includes('&quot;goalSparsity&quot;: 0.8'), 'config as pretty JSON');

    // Written atomically: no temp file left beside it.
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the plots draw without vega warnings', async () => {
  const report = await buildReport(await loadRun(FIXTURE), { generatedAt: new Date(0) });
  assert.deepEqual(report.plots, PLOTS);
  assert.deepEqual(report.warnings, []);
  // Same input, same page (the time is the only thing that changes).
  const again = await buildReport(await loadRun(FIXTURE), { generatedAt: new Date(0) });
  assert.equal(again.html, report.html);
});

test('a run without OOD sets: three plots and a note; a hostile run name is escaped', async () => {
  const dir = fixtureCopy();
  try {
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    const dropOod = (m: { ood?: unknown[]; oodMeanAccuracy?: number | null } | null): void => {
      if (m) Object.assign(m, { ood: [], oodMeanAccuracy: null });
    };
    dropOod(results.dense);
    for (const p of results.phases) {
      for (const c of [...p.candidates, ...(p.imp?.chains ?? []), p.impLonger]) dropOod(c?.metrics ?? null);
      for (const m of [p.candidateMean, p.ensemble, p.imp?.mean, p.soups.uniform.metrics, p.soups.greedy.metrics]) dropOod(m ?? null);
    }
    results.name = '<script>alert(1)</script>';
    writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
    const html = readFileSync(await writeReport(dir), 'utf8');
    assert.equal(count(html, /<svg[\s>]/g), 3);
    assert.ok(!html.includes('plot-ood-accuracy') && !html.includes('plot-ood-breakdown'));
    assert.match(html, /No OOD accuracy/);
    assert.doesNotMatch(html, /<script/);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors name the file: unfinished run, malformed JSON, wrong shape, not a run directory', async () => {
  const dir = fixtureCopy();
  try {
    const resultsFile = join(dir, 'results.json');
    const good = readFileSync(resultsFile, 'utf8');
    const expectError = async (pattern: RegExp): Promise<void> => {
      await assert.rejects(writeReport(dir), (e: Error) => {
        assert.ok(e instanceof DataFormatError, `${e.name}: ${e.message}`);
        assert.match(e.message, pattern);
        return true;
      });
      assert.ok(!existsSync(join(dir, 'report.html')), 'no report written');
    };

    rmSync(resultsFile);
    await expectError(/results\.json: not found: the run has not finished.*sparse-soups status/);

    writeFileSync(resultsFile, good.slice(0, 5000));
    await expectError(/results\.json: invalid JSON/);

    const results = JSON.parse(good);
    delete results.phases[1].soups;
    results.phases[0].candidates[2].metrics.testAccuracy = 'high';
    writeFileSync(resultsFile, JSON.stringify(results));
    await expectError(
      /results\.json: not valid SMS results: phases\[0\]\.candidates\[2\]\.metrics\.testAccuracy: expected number, received string; phases\[1\]\.soups: required/,
    );

    writeFileSync(resultsFile, good);
    rmSync(join(dir, 'config.json'));
    await expectError(/config\.json: not found: .* is not a sparse-soups run directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(writeReport(join(tmpdir(), 'no-such-run-dir-for-report')), /no such run directory/);
});

test('namespaceSvgIds renumbers ids under a prefix, and their references only', () => {
  const svg =
    '<svg><clipPath id="clip7"><rect/></clipPath><g clip-path="url(#clip7)"></g><use href="#clip7"/><a href="#other"/><g id="x"/></svg>';
  assert.equal(
    namespaceSvgIds(svg, 'p'),
    '<svg><clipPath id="p-1"><rect/></clipPath><g clip-path="url(#p-1)"></g><use href="#p-1"/><a href="#other"/><g id="p-2"/></svg>',
  );
});

/** Runs headless Chromium on `url` with `args`, killed (its whole process group) after `timeoutMs`. */
async function chromium(
  args: string[],
  url: string,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; timedOut: boolean }> {
  const profile = mkdtempSync(join(tmpdir(), 'report-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      ...args,
      url,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  let timedOut = false;
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    return { code, stdout, timedOut };
  } finally {
    clearTimeout(timer);
    killGroup(); // helpers Chromium left behind in its group
    rmSync(profile, { recursive: true, force: true });
  }
}

test('headless Chromium renders the plots', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} not installed`, timeout: 90_000 }, async () => {
  const dir = fixtureCopy();
  try {
    const url = pathToFileURL(await writeReport(dir)).href;

    const dom = await chromium(['--dump-dom'], url);
    assert.ok(!dom.timedOut, 'chromium --dump-dom timed out');
    assert.equal(dom.code, 0);
    const svgs = dom.stdout.split(/<svg[\s>]/).slice(1);
    assert.equal(svgs.length, 5, 'SVGs in the rendered DOM');
    for (const svg of svgs) {
      const marks = count(svg, /<path[\s>]/g) + count(svg, /<rect[\s>]/g) + count(svg, /<line[\s>]/g);
      assert.ok(marks > 10, `an SVG with only ${marks} drawn elements`);
    }
    for (const title of [
      'sparsity (%)',
      'test accuracy (%)',
      'mean OOD accuracy (%)',
      'layer (weights)',
      'severity',
      'gaussian_noise',
      'SMS uniform',
      'candidate mean',
    ]) {
      assert.ok(dom.stdout.includes(`>${title}<`), `text '${title}' in the DOM`);
    }

    const png = join(dir, 'report.png');
    const shot = await chromium([`--screenshot=${png}`, '--window-size=1200,3000'], url);
    assert.ok(!shot.timedOut, 'chromium --screenshot timed out');
    assert.ok(existsSync(png), 'screenshot written');
    const bytes = readFileSync(png);
    assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
    assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [1200, 3000], 'PNG size');
    // A blank 1200×3000 page compresses to a few kB; plots, text and tables take far more.
    assert.ok(statSync(png).size > 100_000, `screenshot only ${statSync(png).size} bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh tiny run (the pipeline as it is now) gets a report', { timeout: 120_000 }, async () => {
  const { runSms } = await import('../../src/sms/pipeline.js');
  const { parseSmsConfig, normalizedConfigJson } = await import('../../src/sms/config.js');
  const config = parseSmsConfig(
    tinyRunConfig({
      name: 'tiny',
      model: { options: { hiddenSizes: [64] } },
      baselines: { imp: true, impLonger: true, ensemble: true },
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'report-tiny-'));
  try {
    writeFileSync(join(dir, 'config.json'), normalizedConfigJson(config));
    await runSms(config, { workDir: dir });
    const report = await buildReport(await loadRun(dir));
    assert.deepEqual(report.plots, PLOTS);
    assert.deepEqual(report.warnings, []);
    assert.equal(count(readFileSync(await writeReport(dir), 'utf8'), /<svg[\s>]/g), 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
