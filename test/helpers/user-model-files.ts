/**
 * A user's model module, as a test writes it into a temp directory: a tiny
 * MLP-like `Module` subclass (fc1-ReLU-fc2, `hidden` wide) importing the
 * project's nn from the source tree by absolute file URL, in JavaScript
 * (`my-model.js`, with exports for every error case) and in TypeScript
 * (`my-model.ts`), in a folder whose package.json says `"type": "module"`.
 *
 * @example
 * const files = writeUserModelFiles(mkdtempSync(join(tmpdir(), 'user-model-')));
 * parseSmsConfig({ ...raw, model: { module: files.js, export: 'MyNet', options: { hidden: 16 } } });
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const nnUrl = new URL('../../src/nn/index.ts', import.meta.url).href;
const tensorUrl = new URL('../../src/tensor/index.ts', import.meta.url).href;

const JS_MODEL = `import { Module, Linear } from ${JSON.stringify(nnUrl)};

export class MyNet extends Module {
  constructor({ inChannels, imageSize, numClasses, generator, hidden = 16 }) {
    super();
    if (!(hidden > 0)) throw new RangeError('hidden must be a positive width, got ' + hidden);
    this.fc1 = this.registerModule('fc1', new Linear(inChannels * imageSize * imageSize, hidden, { generator }));
    this.fc2 = this.registerModule('fc2', new Linear(hidden, numClasses, { generator }));
  }
  forward(x) {
    return this.fc2.forward(this.fc1.forward(x.flatten(1)).relu());
  }
}

export default MyNet;
export function makeNet(config) {
  return new MyNet({ ...config, hidden: config.width });
}
export const notAModel = 42;
export class NotAModule {
  forward(x) { return x; }
}
export class ForeignModule {
  forward(x) { return x; }
  stateDict() { return new Map(); }
  namedParameters() { return []; }
}
export function returnsNothing() {}
export async function asyncFactory(config) {
  return new MyNet(config);
}
export function factoryThrows() {
  throw new TypeError('options.depth is required');
}
`;

const TS_MODEL = `import { Module, Linear } from ${JSON.stringify(nnUrl)};
import type { Generator, Tensor } from ${JSON.stringify(tensorUrl)};

interface TsNetConfig {
  inChannels: number;
  imageSize: number;
  numClasses: number;
  generator?: Generator;
  hidden?: number;
}

export default class TsNet extends Module {
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  constructor({ inChannels, imageSize, numClasses, generator, hidden = 16 }: TsNetConfig) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(inChannels * imageSize * imageSize, hidden, { generator }));
    this.fc2 = this.registerModule('fc2', new Linear(hidden, numClasses, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x.flatten(1)).relu());
  }
}
`;

export interface UserModelFiles {
  dir: string;
  /** my-model.js: MyNet (also the default export), makeNet and the broken exports. */
  js: string;
  /** my-model.ts: TsNet as the default export. */
  ts: string;
  /** broken.js: a syntax error on line 2. */
  broken: string;
}

/** Writes the model modules into `dir` (created if needed) and returns their paths. */
export function writeUserModelFiles(dir: string): UserModelFiles {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const files: UserModelFiles = { dir, js: join(dir, 'my-model.js'), ts: join(dir, 'my-model.ts'), broken: join(dir, 'broken.js') };
  writeFileSync(files.js, JS_MODEL);
  writeFileSync(files.ts, TS_MODEL);
  writeFileSync(files.broken, 'export const ok = 1;\nexport const broken = ;\n');
  return files;
}
