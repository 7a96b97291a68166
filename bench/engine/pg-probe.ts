import { Client } from 'pg';

/** What one kind of statement cost over a measured window. */
export interface QueryKindStats {
  kind: string;
  count: number;
  totalMs: number;
  meanMs: number;
}

/**
 * Counts and times every statement the app sends to PostgreSQL, by kind, by wrapping
 * `pg.Client.prototype.query` in this process (src/ is untouched). The time is from the call to
 * the result: one round trip plus the server's work, including any wait for the audit advisory
 * lock, excluding the wait for a pool connection. Clients the bench itself uses are ignored.
 */
export class PgProbe {
  private enabled = false;
  private readonly ignored = new WeakSet<object>();
  private byKind = new Map<string, { count: number; ns: bigint }>();
  private installed = false;
  /** The app sends a handful of distinct statements; classify each text once. */
  private readonly kinds = new Map<string, string>();

  install(): void {
    if (this.installed) return;
    this.installed = true;
    // The patched query needs pg's client as its own `this`, so the probe goes by another name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const probe = this;
    const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    proto.query = function (this: object, ...args: unknown[]) {
      if (!probe.enabled || probe.ignored.has(this)) return original.apply(this, args);
      const first = args[0] as string | { text?: string } | undefined;
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      let kind = probe.kinds.get(text);
      if (kind === undefined) probe.kinds.set(text, (kind = classify(text)));
      const t0 = process.hrtime.bigint();
      const done = () => probe.add(kind, process.hrtime.bigint() - t0);
      // pg-pool calls query(text, values, callback); the app's transactions use the promise form.
      const cbAt = args.findIndex((a, i) => i > 0 && typeof a === 'function');
      if (cbAt > 0) {
        const cb = args[cbAt] as (...r: unknown[]) => void;
        args[cbAt] = (...r: unknown[]) => {
          done();
          cb(...r);
        };
        return original.apply(this, args);
      }
      const result = original.apply(this, args) as Promise<unknown> | undefined;
      if (result && typeof result.then === 'function') result.then(done, done);
      return result;
    };
  }

  ignore(client: object): void {
    this.ignored.add(client);
  }

  start(): void {
    this.byKind = new Map();
    this.enabled = true;
  }

  stop(): QueryKindStats[] {
    this.enabled = false;
    return [...this.byKind.entries()]
      .map(([kind, v]) => {
        const totalMs = Number(v.ns) / 1e6;
        return { kind, count: v.count, totalMs, meanMs: v.count ? totalMs / v.count : 0 };
      })
      .sort((a, b) => b.totalMs - a.totalMs);
  }

  private add(kind: string, ns: bigint): void {
    const e = this.byKind.get(kind) ?? { count: 0, ns: 0n };
    e.count++;
    e.ns += ns;
    this.byKind.set(kind, e);
  }
}

/** Names a statement by what it is for in the engine, so the profile reads as the executor does. */
export function classify(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (/^BEGIN\b/i.test(s)) return 'BEGIN';
  if (/^COMMIT\b/i.test(s)) return 'COMMIT';
  if (/^ROLLBACK\b/i.test(s)) return 'ROLLBACK';
  if (s.startsWith('WITH held AS ( UPDATE runs r SET')) return 'executor writes: fence + run + steps + audit, one batch';
  if (s.startsWith('WITH ins AS ( INSERT INTO runs')) return 'acceptance: new runs, one batch';
  if (s.includes('pg_try_advisory_xact_lock')) return 'audit sealer: lock';
  if (s.startsWith('UPDATE audit_events AS a SET chain_pos')) return 'audit sealer: link records';
  if (s.includes('pg_advisory_xact_lock')) return 'audit: advisory lock';
  if (s.startsWith('SELECT seq, hash FROM audit_events')) return 'audit: read chain head';
  if (s.startsWith('INSERT INTO audit_events')) return 'audit: insert record';
  if (s.startsWith('INSERT INTO step_results')) return 'step_results upsert';
  if (s.startsWith('SELECT * FROM step_results')) return 'step_results select (per run)';
  if (/^SELECT cancel_requested_at\b.* FROM runs WHERE id = \$1$/.test(s)) return 'cancel check (runs, narrow select)';
  if (s === 'SELECT * FROM runs WHERE id = $1') return 'runs select * by id';
  if (s.startsWith('UPDATE runs SET epoch = epoch + 1')) return 'lease: take the run (per run)';
  if (s.startsWith('UPDATE runs SET')) return 'runs update (per run)';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
