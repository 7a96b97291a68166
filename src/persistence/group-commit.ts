import type { Database } from './database';
import { toDatabaseError } from './database.error';

/**
 * Group commit: writes that arrive while the previous batch is in flight wait for it and then go
 * together, in one statement and one commit. With nothing in flight a write goes at once, so a
 * lone writer pays no extra latency; under load, N concurrent writers pay one round trip (and one
 * WAL flush) instead of N. On this kind of machine a statement's round trip costs more CPU in
 * syscalls than the statement itself, so this, not the SQL, sets how many records a second fit.
 *
 * `write` receives the batch and answers one result per item, in order: an Error for an item
 * refused on its own (the others still commit). When `write` itself throws, the batch is split
 * and each item tried alone once, so one bad item cannot fail the writes it happened to share a
 * statement with; transient errors (a database away) reach every caller, who retry as they would
 * a single write.
 */
export class GroupCommit<I, R> {
  private queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<(R | Error)[]>,
    private readonly opts: {
      /** Most items in one statement (bind parameters and statement size stay bounded). */
      maxBatch: number;
      /** Statements in flight at once; more than one spreads a burst over connections. */
      maxInFlight: number;
      /** Two items that must not share a statement (the same row written twice) go in separate batches. */
      conflicts?: (a: I, b: I) => boolean;
      /** True for an error that is the database's (every caller retries), not one item's. */
      isTransient?: (err: unknown) => boolean;
    },
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private take(): GroupCommit<I, R>['queue'] {
    const { conflicts } = this.opts;
    if (!conflicts) return this.queue.splice(0, this.opts.maxBatch);
    const batch: GroupCommit<I, R>['queue'] = [];
    const rest: GroupCommit<I, R>['queue'] = [];
    for (const entry of this.queue) {
      if (batch.length < this.opts.maxBatch && !batch.some((b) => conflicts(b.item, entry.item))) batch.push(entry);
      else rest.push(entry);
    }
    this.queue = rest;
    return batch;
  }

  private async flush(batch: GroupCommit<I, R>['queue']): Promise<void> {
    let results: (R | Error)[];
    try {
      results = await this.write(batch.map((b) => b.item));
    } catch (err) {
      if (batch.length === 1 || this.opts.isTransient?.(err)) {
        for (const b of batch) b.reject(err);
        return;
      }
      // One item may have failed the statement for all: each alone, so only that one fails.
      for (const b of batch) await this.flush([b]);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i];
      if (r instanceof Error) b.reject(r);
      else b.resolve(r);
    });
  }
}

/**
 * Group commit on the service's database: up to 64 writes a statement, two statements in flight
 * (one on PGlite, whose single connection would only queue the second), and a database error
 * (connection lost, timeout) handed to every caller to retry rather than splitting the batch.
 */
export function databaseGroupCommit<I, R>(db: Database, write: (items: I[]) => Promise<(R | Error)[]>, conflicts?: (a: I, b: I) => boolean): GroupCommit<I, R> {
  return new GroupCommit(write, {
    maxBatch: 64,
    maxInFlight: db.kind === 'pglite' ? 1 : 2,
    conflicts,
    isTransient: (err) => toDatabaseError(err) !== undefined,
  });
}
