import { CodedError } from '../common/coded-error';

/** The chat and paging webhooks (EventBridge, PagerDuty, Slack): refusals before anything is done. */
export type WebhookErrorCode =
  /** The source is not set up here (its secret or key is not configured). */
  | 'WEBHOOK_NOT_CONFIGURED'
  /** A missing or wrong API key, a missing or wrong signature, or a body altered after signing. */
  | 'WEBHOOK_UNAUTHENTICATED'
  /** A signed timestamp too far from our clock: an old request replayed, or a clock far off. */
  | 'WEBHOOK_STALE'
  /** The very same signed request seen before. */
  | 'WEBHOOK_REPLAYED'
  /** Authenticated, but not an event this endpoint understands (shape, type, size of a field). */
  | 'WEBHOOK_EVENT_INVALID';

export class WebhookError extends CodedError<WebhookErrorCode> {
  readonly area = 'webhook';
}
