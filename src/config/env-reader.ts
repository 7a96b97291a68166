/** The environment as the config loaders read it (process.env, or a test's map). */
export type Env = Record<string, string | undefined>;

/** Typed reads of one environment; every refusal is collected in `problems`, none thrown. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(readonly env: Env) {}

  /** The variable's value without surrounding whitespace; unset when empty or blank. */
  trimmed(name: string): string | undefined {
    const v = this.env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  }

  str(name: string, fallback: string): string {
    const v = this.env[name];
    return v === undefined || v === '' ? fallback : v;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.trimmed(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.str(name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  }

  url(name: string, fallback: string | undefined, protocols: string[]): string | undefined {
    const v = this.env[name] === '' ? undefined : (this.env[name] ?? fallback);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) this.problems.push(`${name} must use ${protocols.join(' or ')}, got "${u.protocol}"`);
    } catch {
      this.problems.push(`${name} is not a URL`);
    }
    return v;
  }

  list(name: string): string[] {
    return this.str(name, '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  }

  /** Each item of a list that fails `test` is a problem worded by `why`. */
  check(name: string, items: string[], test: (item: string) => boolean, why: string): void {
    for (const item of items) if (!test(item)) this.problems.push(`${name}: "${item}" is not ${why}`);
  }

  secretKey(name: string, raw: string): Buffer | undefined {
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(raw) ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
    if (key.length === 32) return key;
    this.problems.push(`${name} must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`), got ${key.length} bytes`);
    return undefined;
  }
}
