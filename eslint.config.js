// ESLint flat config: the recommended JS and TypeScript rules, and the layers
// of DESIGN.md: each folder of src/ imports only the folders below it, the
// siblings of a layer do not import each other, and only src/tensor/ loads
// the native addon.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** DESIGN.md's layers, top to bottom; folders on one line are one layer. */
export const LAYERS = [
  ['cli'],
  ['run', 'exec', 'report'],
  ['sms'],
  ['prune', 'soup', 'train', 'metrics'],
  ['models', 'data'],
  ['nn', 'optim'],
  ['checkpoints', 'io'],
  ['tensor'],
  ['util'],
];
/** Imports allowed inside a layer: the report reads run summaries, checkpoint files go through io. */
const SIBLING_IMPORTS = { report: ['run'], checkpoints: ['io'] };

/** The folders a file in `folder` must not import. */
export function forbiddenImports(folder) {
  const rank = LAYERS.findIndex((layer) => layer.includes(folder));
  const above = LAYERS.slice(0, rank).flat();
  const siblings = LAYERS[rank].filter((f) => f !== folder && !(SIBLING_IMPORTS[folder] ?? []).includes(f));
  return [...above, ...siblings];
}

const layerRules = LAYERS.flat().map((folder) => {
  const forbidden = forbiddenImports(folder);
  const patterns = [];
  if (forbidden.length > 0)
    patterns.push({
      regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
      message: `src/${folder}/ may not import this folder (layers in ../shared/DESIGN.md: each folder imports only the layers below it, siblings not each other).`,
    });
  if (folder !== 'tensor')
    patterns.push({ regex: '(^|/)tensor/native(\\.js)?$', message: 'Only src/tensor/ imports the native addon; use the Tensor API.' });
  return { files: [`src/${folder}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
});

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'runs/', '**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setImmediate: 'readonly', performance: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...layerRules,
);
