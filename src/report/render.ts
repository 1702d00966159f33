/**
 * Vega-Lite spec → static SVG markup, in Node, at report time: compiled by
 * vega-lite, rendered by a headless vega View (no canvas, no DOM, no
 * browser). The page then needs no script to show its plots.
 *
 * Vega numbers clip paths `clip1`, `clip2`, … from a counter that depends on
 * what was drawn before, so two plots inlined in one page can point at each
 * other's clips, and the same run can give a different page. Every id in a
 * plot is therefore renamed to `<plot id>-<n>`, n counting in order of
 * appearance: unique in the page, and the same for the same input.
 *
 * @example
 * const { svg, warnings } = await renderSvg(spec, 'plot-test-accuracy', 'Test accuracy against sparsity');
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { ReportRenderError } from '../util/errors.js';

export { ReportRenderError };

/** Renames every `id` of an SVG document to `prefix-1`, `prefix-2`, … (in order of appearance), and every `#id` reference with it. */
export function namespaceSvgIds(svg: string, prefix: string): string {
  const renamed = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!renamed.has(m[1])) renamed.set(m[1], `${prefix}-${renamed.size + 1}`);
  if (renamed.size === 0) return svg;
  const rename = (id: string): string => renamed.get(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, a: string, id: string) => `${a}${rename(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${rename(id)})`)
    .replace(/(href=")#([^"]+)"/g, (_, a: string, id: string) => `${a}#${rename(id)}"`);
}

export interface RenderedPlot {
  svg: string;
  /** Warnings of vega-lite and vega (a sign of a spec bug; the plot was still drawn). */
  warnings: string[];
}

/** Renders a Vega-Lite spec to one `<svg>` element with id `id`, labelled for screen readers by `label`. */
export async function renderSvg(spec: TopLevelSpec, id: string, label: string): Promise<RenderedPlot> {
  const warnings: string[] = [];
  // Collected, not printed: the CLI's output stays clean, and tests can require none.
  const logger = vega.logger(vega.Warn, undefined, (method, _level, args) => {
    // Caught below and reported with the plot's id.
    if (method === 'error') throw new ReportRenderError(args.map(String).join(' '));
    warnings.push(args.map(String).join(' '));
  });
  let view: vega.View | undefined;
  try {
    const compiled = compile(spec, { logger }).spec;
    view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
    const svg = await view.toSVG();
    const escaped = label.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    return { svg: namespaceSvgIds(svg, id).replace(/^<svg /, `<svg id="${id}" role="img" aria-label="${escaped}" `), warnings };
  } catch (error) {
    throw new ReportRenderError(`report plot '${id}' could not be rendered: ${(error as Error).message}`);
  } finally {
    view?.finalize();
  }
}

/**
 * A page's plots: `plot(spec, id, label, caption)` renders one into a
 * `<figure>` (html.ts figure) and records its id and vega's warnings, so a
 * page lists what it rendered and what went wrong.
 */
export function plotCollector(figure: (svg: string, caption: string) => string): {
  plots: string[];
  warnings: string[];
  plot: (spec: TopLevelSpec, id: string, label: string, caption: string) => Promise<string>;
} {
  const plots: string[] = [];
  const warnings: string[] = [];
  const plot = async (spec: TopLevelSpec, id: string, label: string, caption: string): Promise<string> => {
    const r = await renderSvg(spec, id, label);
    plots.push(id);
    warnings.push(...r.warnings.map((w) => `${id}: ${w}`));
    return figure(r.svg, caption);
  };
  return { plots, warnings, plot };
}
