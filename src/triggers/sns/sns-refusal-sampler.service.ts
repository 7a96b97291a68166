import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';

interface Tally {
  source: string;
  code: string;
  firstAt: Date;
  /** Refusals after the first in this interval: summed into one record when the interval ends. */
  more: number;
  last: Record<string, unknown>;
}

/**
 * Anyone can POST to the webhook, and every audit append takes the cluster-wide lock every step
 * commit waits on: so refusals before the signature is proven are counted, not each appended.
 * Per source address and reason, the first refusal of an interval is audited at once (a single
 * bad delivery stays visible with its details) and the rest are summed into one record with the
 * count when the interval ends: at most two records per source and reason per interval.
 */
@Injectable()
export class SnsRefusalSampler implements OnModuleDestroy {
  private readonly logger = new Logger('SnsWebhook');
  private readonly tallies = new Map<string, Tally>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async refused(source: string, code: string, data: Record<string, unknown>): Promise<void> {
    const key = `${source}|${code}`;
    const t = this.tallies.get(key);
    if (t) {
      t.more++;
      t.last = data;
      return;
    }
    this.tallies.set(key, { source, code, firstAt: this.clock.now(), more: 0, last: data });
    this.schedule();
    await this.write(source, { ...data, count: 1, sampled: 'first of interval' });
  }

  /** Writes the interval's summaries and starts a new interval. */
  async flush(): Promise<void> {
    const ended = [...this.tallies.values()];
    this.tallies.clear();
    this.timer = null;
    for (const t of ended) {
      if (t.more === 0) continue;
      await this.write(t.source, { ...t.last, count: t.more, sampled: 'summary', since: t.firstAt.toISOString() }).catch((err) =>
        this.logger.warn(`could not audit ${t.more} refused webhook posts from ${t.source}: ${(err as Error).message}`),
      );
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.config.sns.refusalAuditIntervalSeconds * 1000);
    this.timer.unref();
  }

  private write(source: string, data: Record<string, unknown>): Promise<unknown> {
    return this.audit.append({ kind: 'sns.received', runId: null, actor: 'sns:unverified', data: { outcome: 'rejected', source, ...data } });
  }
}
