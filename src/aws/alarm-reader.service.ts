import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { AwsCallContext } from './aws-call.types';
import { resolveTarget, type AwsTarget } from './aws-client.factory';
import { CloudWatchAdapter, type AlarmConfiguration, type AlarmStates } from './cloudwatch.adapter';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';

/** DescribeAlarms takes at most 100 names. */
const NAMES_PER_CALL = 100;
/** Readings kept for `notBeforeMs` askers (a notification about a change older than the reading). */
const READING_TTL_MS = 10_000;

/** CloudWatch's answer about one alarm, and when (this process's clock) the call that got it was sent. */
export interface AlarmReading {
  atMs: number;
  /** Null when no alarm has that name. */
  alarm: AlarmConfiguration | null;
}

interface Waiter {
  name: string;
  resolve: (r: AlarmReading) => void;
  reject: (err: unknown) => void;
}

/** One region and role (so one account): one DescribeAlarms call at a time, names queued meanwhile. */
interface Source {
  target: AwsTarget;
  ctx: AwsCallContext;
  inFlight: boolean;
  /** A pump is scheduled for the end of this turn of the event loop. */
  scheduled: boolean;
  /** Monotonic time (performance.now) the last call went out: pacing is about real time, whatever the clock says. */
  lastCallAt: number;
  queue: Waiter[];
}

/**
 * Every read of alarm state in this process (an SNS alarm's confirmation, a run waiting for its
 * alarm to return to OK, guard alarms before a mutating step) goes through here, because they all
 * spend one quota: DescribeAlarms allows a few calls a second per account and region, and an
 * alarm storm is exactly when a hundred rollbacks poll their alarms while new notifications wait
 * to be confirmed. Polling each on its own would get runbookd throttled by its own waits, and the
 * notifications it could then not confirm would be answered 503 and, after SNS's retries, lost.
 *
 * Per region and role one call is in flight at a time, calls are spaced at least
 * 1000 / RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND ms apart, and every name asked for meanwhile goes in
 * the next call (up to 100 a call). Nobody is answered from a call that went out before they
 * asked, unless they say a reading taken since some time will do (`notBeforeMs`).
 */
@Injectable()
export class AlarmReaderService {
  private readonly sources = new Map<string, Source>();
  private readonly readings = new Map<string, AlarmReading>();

  constructor(
    private readonly cloudwatch: CloudWatchAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * CloudWatch's reading of each alarm, by name, from a call sent after this was asked; or, with
   * `notBeforeMs`, from any recent call sent at or after that time. A call failure rejects every
   * caller it was for. The call is made with the context of whoever asked first; reads are not
   * audited one by one.
   */
  async read(ctx: AwsCallContext, target: AwsTarget, names: readonly string[], notBeforeMs?: number): Promise<Map<string, AlarmReading>> {
    const { region, roleArn } = resolveTarget(target);
    const sourceKey = `${region}|${roleArn ?? ''}`;
    const wanted = [...new Set(names)];
    const readings = await Promise.all(wanted.map((name) => this.readOne(sourceKey, target, ctx, name, notBeforeMs)));
    return new Map(wanted.map((name, i) => [name, readings[i]]));
  }

  /** The alarms' states in the order asked, and the names that match no alarm: what guards and waits need. */
  async states(ctx: AwsCallContext, target: AwsTarget, names: readonly string[]): Promise<AlarmStates> {
    const readings = await this.read(ctx, target, names);
    const out: AlarmStates = { alarms: [], missing: [] };
    for (const [name, r] of readings) {
      if (r.alarm) out.alarms.push({ name, state: r.alarm.state, reason: r.alarm.reason, updatedAt: r.alarm.updatedAt });
      else out.missing.push(name);
    }
    return out;
  }

  private readOne(sourceKey: string, target: AwsTarget, ctx: AwsCallContext, name: string, notBeforeMs: number | undefined): Promise<AlarmReading> {
    const cached = notBeforeMs === undefined ? undefined : this.readings.get(`${sourceKey}|${name}`);
    if (cached && cached.atMs >= notBeforeMs! && this.clock.nowMs() - cached.atMs <= READING_TTL_MS) return Promise.resolve(cached);
    let source = this.sources.get(sourceKey);
    if (!source) {
      source = { target, ctx, inFlight: false, scheduled: false, lastCallAt: -Infinity, queue: [] };
      this.sources.set(sourceKey, source);
    }
    if (source.queue.length === 0) source.ctx = ctx;
    const s = source;
    const promise = new Promise<AlarmReading>((resolve, reject) => s.queue.push({ name, resolve, reject }));
    if (!s.scheduled) {
      // Reads asked for in the same turn (a burst of notifications parsed together) share the first call too.
      s.scheduled = true;
      setImmediate(() => {
        s.scheduled = false;
        this.pump(sourceKey, s);
      });
    }
    return promise;
  }

  private get spacingMs(): number {
    return Math.ceil(1000 / this.config.aws.describeAlarmsPerSecond);
  }

  private pump(sourceKey: string, source: Source): void {
    if (source.inFlight || source.queue.length === 0) return;
    const wait = source.lastCallAt + this.spacingMs - performance.now();
    if (wait > 0) {
      // Held back: names asked for meanwhile join this call.
      source.inFlight = true;
      setTimeout(() => {
        source.inFlight = false;
        this.pump(sourceKey, source);
      }, wait).unref();
      return;
    }
    source.lastCallAt = performance.now();
    const sentAtMs = this.clock.nowMs();
    const names = new Set<string>();
    const taken: Waiter[] = [];
    const rest: Waiter[] = [];
    for (const w of source.queue) {
      if (names.has(w.name) || names.size < NAMES_PER_CALL) {
        names.add(w.name);
        taken.push(w);
      } else {
        rest.push(w);
      }
    }
    source.queue = rest;
    source.inFlight = true;
    void this.cloudwatch
      .alarmConfigurations(source.ctx, source.target, [...names])
      .then((alarms) => {
        const byName = new Map(alarms.map((a) => [a.name, a]));
        const got = new Map<string, AlarmReading>();
        for (const n of names) {
          const reading = { atMs: sentAtMs, alarm: byName.get(n) ?? null };
          got.set(n, reading);
          this.readings.set(`${sourceKey}|${n}`, reading);
        }
        for (const w of taken) w.resolve(got.get(w.name)!);
        this.prune(this.clock.nowMs());
      })
      .catch((err: unknown) => {
        for (const w of taken) w.reject(err);
      })
      .finally(() => {
        source.inFlight = false;
        this.pump(sourceKey, source);
      });
  }

  private prune(now: number): void {
    if (this.readings.size < 1000) return;
    for (const [k, r] of this.readings) if (now - r.atMs > READING_TTL_MS) this.readings.delete(k);
  }
}
