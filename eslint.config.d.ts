// Types of what eslint.config.js exports besides the config (test/lint reads the layer table).
import type { Linter } from 'eslint';
export declare const LAYERS: string[][];
export declare function forbiddenImports(folder: string): string[];
declare const config: Linter.Config[];
export default config;
