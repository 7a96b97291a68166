import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app.config';

export class WebhookDeliveryError extends Error {}

/** HTTP out: one JSON POST, bounded in time; anything but a 2xx is a failed delivery. */
@Injectable()
export class WebhookAdapter {
  constructor(private readonly config: AppConfig) {}

  async postJson(url: string, body: unknown): Promise<{ status: number }> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'runbookd' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.config.notifications.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new WebhookDeliveryError(`POST failed: ${cause ?? (err as Error).name}: ${(err as Error).message}`);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new WebhookDeliveryError(`receiver answered ${res.status}`);
    return { status: res.status };
  }
}

/** Webhook URLs (Slack's, for one) carry their credential in the path: only the origin is recorded. */
export function describeWebhook(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}
