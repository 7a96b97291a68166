import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { AuditSigningKey, digestHash, type AuditDigest } from './audit-digest';
import { AuditDigestStore } from './audit-digest-store';
import { AuditRecordMac, BEFORE_AUTHENTICATION } from './audit-record-mac';
import { hashRecord } from './audit-hash';
import { AuditRepository } from './audit.repository';
import type { SealedAuditRecord, StoredAuditRecord } from './audit.types';

/** Records linked per transaction: big enough to keep up with thousands of appends a second, small enough to keep the lock short. */
export const AUDIT_SEAL_BATCH = 2000;
/** Batches per round, so one round cannot hold a replica's timer forever behind a flood. */
const MAX_BATCHES_PER_ROUND = 25;
const MAX_RETRY_MS = 5 * 60_000;

export interface SealRound {
  /** False when another replica held the sealer lock: it did the work. */
  sealer: boolean;
  sealed: number;
  /** Rows refused this round (kept in the table, outside the chain). */
  quarantined: number;
  digest?: number;
}

/**
 * Links committed records into the hash chain and anchors the chain outside the database.
 *
 * Every round (each replica runs one; the advisory lock lets one through at a time): take the
 * unsealed committed records in seq order, give each the next chain position, prev_hash and
 * hash = sha256(prev_hash + canonical record), and, when due, write the next signed digest to the
 * outbox in the same transaction. After commit, publish the outbox to the store in order. A
 * digest is due when the chain grew and either the digest interval passed or a run ended (at most
 * one per `audit.digestMinGapMs`, so a storm of run ends costs a digest per gap, not per run).
 */
@Injectable()
export class AuditSealerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditSealer');
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<unknown> = Promise.resolve();
  private stopping = false;

  constructor(
    private readonly repository: AuditRepository,
    private readonly key: AuditSigningKey,
    private readonly store: AuditDigestStore,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly mac: AuditRecordMac,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.audit.sealIntervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.round.catch(() => undefined);
  }

  /** One round of sealing and publishing; rounds in this process never overlap. Errors are logged, not thrown. */
  tick(): Promise<void> {
    const run = this.round.then(async () => {
      if (this.stopping) return;
      try {
        // Most rounds of an idle service find nothing: one probe instead of a locked transaction of six statements.
        if (!(await this.repository.sealerHasWork())) return;
        await this.sealPending();
        await this.publishPending();
      } catch (err) {
        this.logger.warn(`audit sealing round failed: ${(err as Error).message}`);
      }
    });
    this.round = run;
    return run;
  }

  /** Seals everything committed so far (in batches) and writes a digest when one is due, or when `forceDigest`. */
  /**
   * `wait`: a caller that needs everything committed sealed now (verify, an anchor on demand)
   * waits for a sealer running elsewhere instead of finding the lock taken and sealing nothing.
   */
  async sealPending(forceDigest = false, wait = false): Promise<SealRound> {
    let sealed = 0;
    let quarantined = 0;
    let digest: number | undefined;
    for (let i = 0; i < MAX_BATCHES_PER_ROUND; i++) {
      const last = i === MAX_BATCHES_PER_ROUND - 1;
      const result = await this.repository.asSealer(async (tx) => {
        const authenticatedFrom = await this.repository.authenticatedFrom(tx);
        // A row someone wrote straight into the chain's tail (chain columns and a recomputed hash
        // of their own) is taken out before anything is linked onto it, so no digest anchors it.
        const tail: { seq: number; reason: string }[] = [];
        let head = await this.repository.headRecord(tx);
        for (let reason = head && this.refusal(head, authenticatedFrom); head && reason; reason = head && this.refusal(head, authenticatedFrom)) {
          const taken = { seq: head.seq, reason: `${reason}; found sealed at the chain's tail (position ${head.position})` };
          await this.repository.quarantine(tx, [taken]);
          tail.push(taken);
          head = await this.repository.headRecord(tx);
        }
        const batch = await this.repository.unsealed(tx, AUDIT_SEAL_BATCH);
        let position = head?.position ?? 0;
        let prevHash = head?.hash ?? '0'.repeat(64);
        const linked: SealedAuditRecord[] = [];
        const refused: { seq: number; reason: string }[] = [];
        for (const r of batch) {
          const reason = this.refusal(r, authenticatedFrom);
          if (reason) {
            refused.push({ seq: r.seq, reason });
            continue;
          }
          position += 1;
          const hash = hashRecord(prevHash, r);
          linked.push({ ...r, position, prevHash, hash });
          prevHash = hash;
        }
        await this.repository.quarantine(tx, refused);
        await this.repository.seal(tx, linked);
        const more = batch.length === AUDIT_SEAL_BATCH && !last;
        const made = more ? undefined : await this.digestIfDue(tx, { position, hash: position > 0 ? prevHash : null }, forceDigest);
        return { count: linked.length, refused: [...tail, ...refused], more, made };
      }, wait);
      if (!result) return { sealer: false, sealed, quarantined, digest };
      // An alarm, not a warning: someone with database rights wrote an audit row runbookd did not.
      // Seq, kind and the fixed reason only: the row's content is the forger's and may be anything.
      for (const q of result.value.refused) {
        this.logger.error(`AUDIT FORGERY SUSPECTED: record seq ${q.seq} quarantined, not linked into the chain: ${q.reason}`);
      }
      quarantined += result.value.refused.length;
      sealed += result.value.count;
      digest = result.value.made ?? digest;
      if (!result.value.more) break;
    }
    return { sealer: true, sealed, quarantined, digest };
  }

  /** Why a row may not be in the chain, or null: written by runbookd (its MAC checks), or older than authentication. */
  private refusal(r: StoredAuditRecord, authenticatedFrom: number): string | null {
    if (r.authKeyId === BEFORE_AUTHENTICATION) return r.seq <= authenticatedFrom ? null : 'marked before-authentication but written after authentication began';
    return this.mac.check(r);
  }

  private async digestIfDue(
    tx: Parameters<Parameters<AuditRepository['asSealer']>[0]>[0],
    head: { position: number; hash: string | null },
    force: boolean,
  ): Promise<number | undefined> {
    const previous = await this.repository.lastDigest(tx);
    const now = this.clock.now();
    if (previous && previous.position === head.position && !force) return undefined;
    if (!previous && head.position === 0 && !force) return undefined;
    const sincePrevious = previous ? now.getTime() - Date.parse(JSON.parse(previous.body).at as string) : Infinity;
    const due =
      force ||
      sincePrevious >= this.config.audit.digestIntervalMs ||
      (sincePrevious >= this.config.audit.digestMinGapMs && (await this.repository.runEndedAfter(tx, previous?.position ?? 0)));
    if (!due) return undefined;
    const number = (previous?.number ?? 0) + 1;
    const digest = this.key.sign({
      version: 1,
      number,
      position: head.position,
      headHash: head.hash,
      at: now.toISOString(),
      previousDigestHash: previous ? digestHash(JSON.parse(previous.body) as AuditDigest) : null,
      keyId: this.key.keyId,
    });
    await this.repository.insertDigest(tx, number, head.position, head.hash, JSON.stringify(digest));
    return number;
  }

  /**
   * Publishes the outbox to the store, oldest first, stopping at the first failure so the store
   * never holds a digest whose predecessor it lacks. A failed digest is retried with a doubling
   * delay (capped at 5 minutes); verify names the interval it leaves unanchored meanwhile.
   */
  async publishPending(): Promise<number> {
    let published = 0;
    for (const row of await this.repository.unpublishedDigests(true)) {
      try {
        await this.store.publish(JSON.parse(row.body) as AuditDigest, row.body);
      } catch (err) {
        const retryInMs = Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.min(row.attempts, 16));
        const message = describe(err);
        await this.repository.markDigestFailed(row.number, message, retryInMs);
        this.logger.warn(
          `audit digest ${row.number} not published to ${this.store.description} (attempt ${row.attempts + 1}): ${message}; retrying in ${retryInMs} ms`,
        );
        break;
      }
      await this.repository.markDigestPublished(row.number);
      published++;
    }
    return published;
  }

  /** Seals, writes a digest of the whole chain and publishes it now: an anchor on demand (tests, migrations, shutdown). */
  async anchorNow(): Promise<SealRound & { published: number }> {
    const round = await this.sealPending(true, true);
    return { ...round, published: await this.publishPending() };
  }
}

/** The error's name and message only: a store error must not carry a signed URL or credentials into the log. */
function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string };
  return `${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}: ${(e.message ?? String(err)).replace(/X-Amz-[A-Za-z-]+=[^&\s]+/g, 'X-Amz-…')}`.slice(0, 300);
}
