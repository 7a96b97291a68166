import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const PERFORMANCE_DOC = path.resolve(__dirname, '..', '..', 'docs', 'performance.md');

const HEADER =
  '# Performance\n\nBenchmarks live in `bench/`. Each generated section below is rewritten by the benchmark named in it; text outside the markers is kept.\n';

/**
 * Replaces the text between `<!-- <id>:start ... -->` and `<!-- <id>:end -->` in the doc, or
 * appends the section when the markers are not there yet. Everything else in the file stays.
 */
export function writeDocSection(id: string, body: string, file = PERFORMANCE_DOC): void {
  const start = `<!-- ${id}:start (generated; edits between these markers are overwritten) -->`;
  const end = `<!-- ${id}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  mkdirSync(path.dirname(file), { recursive: true });
  let text = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const startRe = new RegExp(`<!-- ${escapeRe(id)}:start[^>]*-->`);
  const m = startRe.exec(text);
  const endAt = m ? text.indexOf(end, m.index) : -1;
  if (m && endAt > m.index) {
    text = text.slice(0, m.index) + section + text.slice(endAt + end.length);
  } else {
    text = `${text.replace(/\s*$/, '')}\n\n${section}\n`;
  }
  writeFileSync(file, text);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
