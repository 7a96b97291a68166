import { CodedError } from '../../common/coded-error';

export type SnsErrorCode =
  /** Not an SNS message: not JSON, a field missing or of the wrong type, headers that contradict the body. */
  | 'SNS_MESSAGE_INVALID'
  /** SigningCertURL is not https on sns.<region>.amazonaws.com(.cn) ending in .pem: nothing is fetched. */
  | 'SNS_CERT_URL_REJECTED'
  /** The signature does not verify (forged, altered, or the certificate does not exist). */
  | 'SNS_SIGNATURE_INVALID'
  /** Timestamp older than the freshness window (or too far in the future): a replay. */
  | 'SNS_MESSAGE_STALE'
  /** The topic is named by no runbook trigger and no configuration. */
  | 'SNS_TOPIC_NOT_ACCEPTED'
  /** The signing certificate could not be fetched (timeout, AWS answering 5xx): SNS retries on our 503. */
  | 'SNS_CERT_UNAVAILABLE'
  /** CloudWatch does not confirm the alarm state change the message describes (no such alarm, another state, time, account or dimensions). */
  | 'SNS_ALARM_NOT_CONFIRMED'
  /** CloudWatch could not be asked about the alarm just now: SNS retries on our 503. */
  | 'SNS_ALARM_SOURCE_UNAVAILABLE';

export class SnsError extends CodedError<SnsErrorCode> {
  readonly area = 'sns';
}
