/**
 * What the CLI prints. Tables for people, `--json` for scripts (one JSON document on stdout,
 * nothing else there), colour only on a terminal and never with NO_COLOR. Messages and progress
 * go to stderr when --json is given, so stdout stays parseable.
 */
export interface OutputOptions {
  json: boolean;
  colour: boolean;
}

export type Paint = (text: string) => string;

export class CliOutput {
  constructor(
    readonly opts: OutputOptions,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  get json(): boolean {
    return this.opts.json;
  }

  /** Human lines: stdout normally, stderr under --json. */
  line(text = ''): void {
    (this.opts.json ? this.err : this.out).write(`${text}\n`);
  }

  /** Always stderr (warnings, errors). */
  warn(text: string): void {
    this.err.write(`${text}\n`);
  }

  /** Raw text to stdout (a Markdown or HTML report). */
  raw(text: string): void {
    this.out.write(text);
  }

  /** The one document a --json command prints. */
  document(value: unknown): void {
    this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  table(headers: string[], rows: Array<Array<unknown>>): void {
    if (rows.length === 0) {
      this.line(this.dim('(none)'));
      return;
    }
    const cells = rows.map((r) => r.map((c) => cellText(c)));
    const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
    const fmt = (r: string[]) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd();
    this.line(this.bold(fmt(headers.map((h) => h.toUpperCase()))));
    for (const r of cells) this.line(fmt(r));
  }

  /** `key: value` lines with the keys aligned. */
  fields(entries: Array<[string, unknown]>): void {
    const width = Math.max(...entries.map(([k]) => k.length));
    for (const [k, v] of entries) this.line(`${this.dim(`${k}:`.padEnd(width + 1))} ${cellText(v)}`);
  }

  readonly bold: Paint = (t) => this.paint(t, 1);
  readonly dim: Paint = (t) => this.paint(t, 2);
  readonly red: Paint = (t) => this.paint(t, 31);
  readonly green: Paint = (t) => this.paint(t, 32);
  readonly yellow: Paint = (t) => this.paint(t, 33);

  /** A run or step state, coloured by how it went. */
  state(s: string): string {
    if (s === 'succeeded') return this.green(s);
    if (['failed', 'aborted', 'rejected'].includes(s)) return this.red(s);
    if (['cancelled', 'skipped', 'waiting', 'planned'].includes(s)) return this.yellow(s);
    return s;
  }

  private paint(text: string, code: number): string {
    return this.opts.colour ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** "2026-12-01T18:40:02.123Z" → "2026-12-01 18:40:02" for tables. */
export function shortTime(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

export function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;
}

/** Options as they would be typed again, for the "more:" hint. */
export function argsOf(options: Record<string, string | undefined>): string {
  return Object.entries(options)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `--${k} ${/^[\w.:@/+=-]+$/.test(v!) ? v : `'${v!.replace(/'/g, `'\\''`)}'`}`)
    .join(' ');
}
