/**
 * The page shell of report.html: escaping, number formatting, a generic
 * table, and the stylesheet. Everything is inline and a Content Security
 * Policy forbids the page to load anything, so it opens the same offline,
 * from an e-mail attachment, or years later.
 */

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(text: string | number): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A fraction as a percentage with `digits` decimals; NaN and undefined as an en dash. */
export function pct(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '–' : (100 * x).toFixed(digits);
}

/** A signed difference of two fractions in percentage points. */
export function deltaPoints(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '–';
  const d = 100 * (a - b);
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)}`;
}

export function integer(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

export interface Column<Row> {
  header: string;
  /** Cell content as HTML (escape text yourself, or use `text`). */
  html?: (row: Row) => string;
  text?: (row: Row) => string | number;
  numeric?: boolean;
}

/** A table; `rowClass` adds a class per row (highlighting), `caption` is HTML. */
export function table<Row>(
  rows: Row[],
  columns: Column<Row>[],
  opts: { caption?: string; rowClass?: (row: Row) => string; className?: string } = {},
): string {
  const head = columns.map((c) => `<th${c.numeric ? ' class="num"' : ''}>${esc(c.header)}</th>`).join('');
  const body = rows
    .map((r) => {
      const cells = columns
        .map((c) => `<td${c.numeric ? ' class="num"' : ''}>${c.html ? c.html(r) : esc(c.text ? c.text(r) : '')}</td>`)
        .join('');
      const cls = opts.rowClass?.(r);
      return `<tr${cls ? ` class="${esc(cls)}"` : ''}>${cells}</tr>`;
    })
    .join('\n');
  const caption = opts.caption ? `<caption>${opts.caption}</caption>` : '';
  return `<div class="table-wrap"><table${opts.className ? ` class="${esc(opts.className)}"` : ''}>${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

export interface Section {
  id: string;
  title: string;
  /** HTML. */
  body: string;
}

/** A figure holding an inline SVG plot and its caption (HTML). */
export function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${caption}</figcaption></figure>`;
}

export function page(opts: { title: string; subtitle: string; sections: Section[]; footer: string }): string {
  const nav = opts.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('');
  const sections = opts.sections.map((s) => `<section id="${esc(s.id)}">\n<h2>${esc(s.title)}</h2>\n${s.body}\n</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="sparse-soups report">
<title>${esc(opts.title)}</title>
<style>
${CSS}
</style>
</head>
<body>
<header>
<h1>${esc(opts.title)}</h1>
<p class="subtitle">${opts.subtitle}</p>
<nav>${nav}</nav>
</header>
<main>
${sections}
</main>
<footer>${opts.footer}</footer>
</body>
</html>
`;
}

const CSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d8dee4; --bg-alt: #f6f8fa; --accent: #d62728; --good: #1a7f37; --bad: #cf222e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, footer { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; padding-bottom: 8px; border-bottom: 1px solid var(--line); }
h1 { font-size: 26px; margin: 0 0 4px; font-weight: 650; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); font-weight: 600; }
h3 { font-size: 16px; margin: 24px 0 8px; font-weight: 600; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 14px; padding-bottom: 8px; }
nav a, a { color: #0969da; text-decoration: none; }
nav a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
code { background: var(--bg-alt); padding: 1px 5px; border-radius: 4px; }
pre { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; overflow: auto; max-height: 520px; line-height: 1.4; }
p.note { color: var(--muted); font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin: 20px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .detail { font-size: 13px; color: var(--muted); }
.pos { color: var(--good); }
.muted { color: var(--muted); }
.neg { color: var(--bad); }
figure { margin: 16px 0 28px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 6px; max-width: 820px; }
.table-wrap { overflow-x: auto; margin: 8px 0 20px; }
table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); font-size: 13.5px; padding-bottom: 6px; caption-side: top; }
th, td { padding: 4px 12px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { font-weight: 600; background: var(--bg-alt); border-bottom: 2px solid var(--line); }
td.num, th.num { text-align: right; }
tbody tr:hover { background: #fbfcfd; }
tr.phase-start td { border-top: 2px solid var(--line); }
tr.sms td:nth-child(3) { font-weight: 600; }
td .best { font-weight: 700; }
.accepted { color: var(--good); font-weight: 600; }
.rejected { color: var(--bad); font-weight: 600; }
.grid-2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 24px; }
footer { color: var(--muted); font-size: 13px; padding-top: 24px; padding-bottom: 40px; border-top: 1px solid var(--line); margin-top: 48px; }
@media print { nav { display: none; } section { break-inside: avoid-page; } pre { max-height: none; } }
`.trim();
