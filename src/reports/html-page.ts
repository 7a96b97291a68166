import type { Tone } from './report-format';

/**
 * The page every HTML report shares (run reports, DR evidence, capacity): one self-contained
 * document with inline CSS, no script and no external asset, so it can be mailed, archived as
 * evidence or opened offline and look the same.
 *
 * Markup is built with the `html` tag: every interpolated value is passed through `escapeHtml`
 * unless it is already `SafeHtml` (markup made by this same tag). Recorded values reach the page
 * only as data, so a parameter or an AWS error message holding `<script>` is shown, never run.
 */
export class SafeHtml {
  private constructor(private readonly markup: string) {}

  /** For markup written in this codebase only, never for recorded data. */
  static trusted(markup: string): SafeHtml {
    return new SafeHtml(markup);
  }

  toString(): string {
    return this.markup;
  }
}

export type HtmlValue = SafeHtml | string | number | null | undefined | false | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element content and in double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  values.forEach((value, i) => {
    out += interpolate(value) + strings[i + 1];
  });
  return SafeHtml.trusted(out);
}

function interpolate(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(interpolate).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(value);
}

export interface PageSection {
  /** Anchor id, e.g. "findings". */
  id: string;
  title: string;
  body: SafeHtml;
}

export interface PageNotice {
  tone: Tone;
  text: string;
}

export interface HtmlPageOptions {
  title: string;
  subtitle?: string;
  /** A badge next to the title, e.g. "✅ Succeeded". */
  status?: { tone: Tone; text: string };
  /** Banners under the header, e.g. "DRY RUN: nothing was changed". */
  notices?: readonly PageNotice[];
  sections: readonly PageSection[];
  footer?: string;
}

export function htmlPage(options: HtmlPageOptions): string {
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="runbookd">
<title>${options.title}</title>
<style>${SafeHtml.trusted(PAGE_CSS)}</style>
</head>
<body>
<header class="page-header">
<h1>${options.title}${options.status ? html` <span class="badge tone-${options.status.tone}">${options.status.text}</span>` : ''}</h1>
${options.subtitle ? html`<p class="subtitle">${options.subtitle}</p>` : ''}
</header>
${(options.notices ?? []).map((n) => html`<div class="notice tone-${n.tone}" role="note">${n.text}</div>\n`)}
<main>
${options.sections.map(
  (s) => html`<section id="${s.id}" aria-labelledby="${s.id}-title">
<h2 id="${s.id}-title">${s.title}</h2>
${s.body}
</section>
`,
)}
</main>
${options.footer ? html`<footer>${options.footer}</footer>` : ''}
</body>
</html>
`;
  return page.toString();
}

// ---- Building blocks shared by every report's sections ----

export interface TableColumn {
  label: string;
  /** Right-aligned, tabular figures. */
  numeric?: boolean;
}

export function dataTable(columns: readonly (TableColumn | string)[], rows: readonly (readonly HtmlValue[])[], className?: string): SafeHtml {
  const cols = columns.map((c) => (typeof c === 'string' ? { label: c } : c));
  const cls = (i: number) => (cols[i]?.numeric ? 'num' : false);
  return html`<div class="table-wrap"><table${className ? html` class="${className}"` : ''}>
<thead><tr>${cols.map((c, i) => html`<th scope="col"${cls(i) ? html` class="num"` : ''}>${c.label}</th>`)}</tr></thead>
<tbody>
${rows.map((row) => html`<tr>${row.map((cell, i) => html`<td${cls(i) ? html` class="num"` : ''}>${cell}</td>`)}</tr>\n`)}</tbody>
</table></div>`;
}

/** Label/value pairs (the run's who, when and why). */
export function keyValueList(pairs: readonly (readonly [string, HtmlValue])[]): SafeHtml {
  return html`<dl class="kv">${pairs.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

/** Big numbers in cards: the figures a reader looks for first (RTO, switch time, headroom). */
export function figureCards(figures: readonly { label: string; value: string; hint?: string }[]): SafeHtml {
  return html`<div class="cards">${figures.map(
    (f) =>
      html`<div class="card"><div class="card-label">${f.label}</div><div class="card-value">${f.value}</div>${
        f.hint ? html`<div class="card-hint">${f.hint}</div>` : ''
      }</div>`,
  )}</div>`;
}

export function badge(tone: Tone, text: string): SafeHtml {
  return html`<span class="badge tone-${tone}">${text}</span>`;
}

export function codeBlock(text: string, label?: string): SafeHtml {
  return html`<pre class="code"${label ? html` aria-label="${label}"` : ''}><code>${text}</code></pre>`;
}

export function paragraph(text: HtmlValue, className?: string): SafeHtml {
  return html`<p${className ? html` class="${className}"` : ''}>${text}</p>`;
}

const PAGE_CSS = `
:root {
  --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --border: #d0d7de;
  --ok: #1a7f37; --ok-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9; --warn: #9a6700; --warn-bg: #fff8c5;
  --info: #0969da; --info-bg: #ddf4ff; --progress: #8250df; --progress-bg: #fbefff; --skip: #8c959f;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --muted: #8d96a0; --bg: #0d1117; --panel: #161b22; --border: #30363d;
    --ok: #3fb950; --ok-bg: #12261e; --bad: #f85149; --bad-bg: #2d1214; --warn: #d29922; --warn-bg: #272115;
    --info: #4493f8; --info-bg: #121d2f; --progress: #ab7df8; --progress-bg: #1f1633; --skip: #6e7681;
  }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 76rem; padding: 1.5rem; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; display: flex; flex-wrap: wrap; align-items: center; gap: .6rem; }
h2 { font-size: 1.15rem; margin: 0 0 .75rem; padding-bottom: .3rem; border-bottom: 1px solid var(--border); }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.subtitle, .muted, footer { color: var(--muted); }
.subtitle { margin: 0; }
.page-header { margin-bottom: 1rem; }
section { margin: 1.75rem 0; }
footer { margin-top: 2.5rem; padding-top: .75rem; border-top: 1px solid var(--border); font-size: .85rem; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.code { background: var(--panel); border: 1px solid var(--border); border-radius: 6px; padding: .75rem 1rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: .4rem 0 1rem; }
.badge { display: inline-block; font-size: .8rem; font-weight: 600; padding: .1rem .55rem; border-radius: 999px; border: 1px solid currentColor; white-space: nowrap; }
.tone-ok { color: var(--ok); background: var(--ok-bg); }
.tone-bad { color: var(--bad); background: var(--bad-bg); }
.tone-warn { color: var(--warn); background: var(--warn-bg); }
.tone-info { color: var(--info); background: var(--info-bg); }
.tone-progress { color: var(--progress); background: var(--progress-bg); }
.notice { border: 1px solid currentColor; border-radius: 6px; padding: .6rem 1rem; margin: .5rem 0; font-weight: 600; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .6rem; border-bottom: 1px solid var(--border); }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .sub { display: block; color: var(--muted); font-size: .85rem; white-space: pre-wrap; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.25rem; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .75rem; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: .7rem .9rem; }
.card-label { color: var(--muted); font-size: .85rem; }
.card-value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; word-break: break-word; }
.card-hint { color: var(--muted); font-size: .8rem; }
table.capacity-summary td:last-child { min-width: 18rem; }
figure.chart { margin: 0 0 1rem; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart figcaption { color: var(--muted); font-size: .85rem; }
.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
.chart text.label { fill: var(--fg); }
.chart .grid { stroke: var(--border); stroke-width: 1; }
.chart .bar { fill: var(--info); }
.chart .bar.succeeded { fill: var(--ok); }
.chart .bar.failed { fill: var(--bad); }
.chart .bar.running, .chart .bar.waiting { fill: var(--progress); }
.chart .bar.skipped, .chart .bar.planned { fill: var(--skip); }
.chart .bar.open { fill-opacity: .55; }
.chart .bar.phase-cleanup { stroke: var(--fg); stroke-dasharray: 3 2; stroke-width: 1; }
@media print {
  body { max-width: none; padding: 0; font-size: 12px; }
  section { break-inside: avoid-page; }
  .notice, .badge, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
