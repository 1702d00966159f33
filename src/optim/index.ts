export { SGD } from './sgd.js';
export type { SgdOptions } from './sgd.js';
