/**
 * Which parameters pruning may touch: the weights of every Conv2d and Linear
 * module (subclasses included), in the model's registration order. Biases
 * and batch-norm parameters are never prunable.
 *
 * The first and last such layer are included by default; `includeFirst:
 * false` / `includeLast: false` leave them dense (a common choice for the
 * input convolution and the classifier). `exclude` removes layers by exact
 * parameter name (`fc.weight`) or by module-name prefix (`layer1` removes
 * `layer1.0.conv1.weight`, `layer1.1.conv2.weight`, ...). An exclude entry
 * that matches no prunable weight is a ConfigError, so a typo cannot
 * silently prune a layer meant to stay dense.
 *
 * @example
 * const params = prunableParameters(model, { includeFirst: false, exclude: ['fc'] });
 * params.map(([name]) => name); // ['layer1.0.conv1.weight', ...]
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { ConfigError } from '../util/errors.js';

/** Which Conv2d and Linear weights to leave dense (DESIGN.md: biases and batch norm are never pruned). */
export interface PrunableOptions {
  /** Parameter names (`conv1.weight`) or module-name prefixes (`layer1`, `layer1.0`) to leave dense. */
  exclude?: string[];
  /** Prune the first Conv2d/Linear weight (default true). */
  includeFirst?: boolean;
  /** Prune the last Conv2d/Linear weight (default true). */
  includeLast?: boolean;
}

/** A named parameter, as `Module.namedParameters()` gives them. */
export type NamedTensor = [name: string, tensor: Tensor];

interface WeightLayer {
  moduleName: string;
  paramName: string;
  weight: Tensor;
}

/** Conv2d and Linear weights in registration order, each tensor once. */
function weightLayers(model: Module): WeightLayer[] {
  const seen = new Set<Tensor>();
  const out: WeightLayer[] = [];
  for (const [moduleName, m] of model.namedModules()) {
    if (!(m instanceof Conv2d || m instanceof Linear)) continue;
    if (seen.has(m.weight)) continue; // a module registered twice is one layer
    seen.add(m.weight);
    out.push({ moduleName, paramName: moduleName === '' ? 'weight' : `${moduleName}.weight`, weight: m.weight });
  }
  return out;
}

function matchesExclude(layer: WeightLayer, entry: string): boolean {
  return layer.paramName === entry || layer.moduleName === entry || layer.moduleName.startsWith(`${entry}.`);
}

/** The prunable weights of `model` as `[name, tensor]` pairs (live tensors, not copies). */
export function prunableParameters(model: Module, opts: PrunableOptions = {}): NamedTensor[] {
  const layers = weightLayers(model);
  const exclude = opts.exclude ?? [];
  for (const entry of exclude) {
    if (!layers.some((l) => matchesExclude(l, entry))) {
      const known = layers.map((l) => l.paramName);
      const shown = known.slice(0, 12).join(', ') + (known.length > 12 ? `, ... (${known.length} in all)` : '');
      throw new ConfigError(
        'pruning.exclude',
        `'${entry}' matches no Conv2d/Linear weight of ${model.constructor.name}; give a parameter name or a module-name prefix, one of: ${shown}`,
      );
    }
  }
  const last = layers.length - 1;
  return layers
    .filter((l, i) => {
      if (i === 0 && opts.includeFirst === false) return false;
      if (i === last && opts.includeLast === false) return false;
      return !exclude.some((e) => matchesExclude(l, e));
    })
    .map((l): NamedTensor => [l.paramName, l.weight]);
}
