/**
 * Renders the fault suite's crash-point results (test/artifacts/faults/crash-points*.json, written
 * by test/faults/crash-points.fault.spec.ts) into the table in docs/reliability.md, between its
 * `<!-- crash-points -->` markers. `npm run test:faults` runs it after the suite.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CaseResult } from '../test/faults/fault-support';

const root = path.resolve(__dirname, '..');
const source = ['crash-points-all.json', 'crash-points.json'].map((f) => path.join(root, 'test', 'artifacts', 'faults', f)).find(existsSync);
if (!source) {
  process.stderr.write('no crash-point results: run `npm run test:faults` first\n');
  process.exit(1);
}
const results = JSON.parse(readFileSync(source, 'utf8')) as CaseResult[];
const byRunbook = new Map<string, CaseResult[]>();
for (const r of results) byRunbook.set(r.runbook, [...(byRunbook.get(r.runbook) ?? []), r]);

const lines = [
  `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC from \`${path.relative(root, source)}\` (${results.length} cases).`,
  '',
  '| runbook | crash points | crashed there | ended as the clean run | doubled mutating calls | resources left | runs with ≠ 1 `run.ended` | audit chain broken |',
  '|---|---|---|---|---|---|---|---|',
  ...[...byRunbook].map(
    ([runbook, rs]) =>
      `| ${runbook} | ${rs.length} | ${rs.filter((r) => r.crashed).length} | ${rs.filter((r) => r.state === r.expectedState).length} | ${rs.reduce((n, r) => n + r.doubled.length, 0)} | ${rs.reduce((n, r) => n + r.leftovers.length, 0)} | ${rs.filter((r) => r.runEnded !== 1).length} | ${rs.filter((r) => !r.auditOk).length} |`,
  ),
  '',
  '<details><summary>every case</summary>',
  '',
  '| runbook | point | crashed | state | doubled | left behind |',
  '|---|---|---|---|---|---|',
  ...results.map(
    (r) => `| ${r.runbook} | \`${r.point}\` | ${r.crashed ? 'yes' : 'no'} | ${r.state} | ${r.doubled.join(', ') || '0'} | ${r.leftovers.join(', ') || '0'} |`,
  ),
  '',
  '</details>',
];
const doc = path.join(root, 'docs', 'reliability.md');
const text = readFileSync(doc, 'utf8');
const start = text.indexOf('<!-- crash-points -->');
const end = text.indexOf('<!-- /crash-points -->');
if (start < 0 || end < 0) throw new Error('docs/reliability.md lacks the <!-- crash-points --> markers');
writeFileSync(doc, `${text.slice(0, start)}<!-- crash-points -->\n${lines.join('\n')}\n${text.slice(end)}`);
process.stdout.write(`docs/reliability.md: ${results.length} cases from ${path.relative(root, source)}\n`);
