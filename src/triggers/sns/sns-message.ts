import { jsonTextDepth, MAX_JSON_DEPTH, tooDeepMessage } from '../../common/json-depth';
import { SnsError } from './sns.error';

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
const TYPES: readonly SnsMessageType[] = ['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'];

/** The SNS HTTP envelope, after its shape is checked (not yet its signature). */
export interface SnsMessage {
  Type: SnsMessageType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
}

const MAX_FIELD = 300_000;

/**
 * Parses the body and checks every field the signature covers is a string of sane size, so
 * nothing later (string to sign, audit, database) meets a value it cannot handle.
 */
export function parseSnsMessage(body: unknown, headers: Record<string, string | string[] | undefined>): SnsMessage {
  let value: unknown = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = String(body);
    const depth = jsonTextDepth(text);
    if (depth > MAX_JSON_DEPTH) throw invalid(tooDeepMessage('the body', depth), undefined, { depth, limit: MAX_JSON_DEPTH });
    try {
      value = JSON.parse(text);
    } catch {
      throw invalid('the body is not JSON (SNS posts a JSON document as text/plain)');
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('the body must be a JSON object');
  const m = value as Record<string, unknown>;
  const type = m.Type;
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type)) {
    throw invalid(`Type must be one of ${TYPES.join(', ')}`, 'Type');
  }
  const required = ['MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL'];
  if (type !== 'Notification') required.push('Token', 'SubscribeURL');
  for (const f of required) {
    if (typeof m[f] !== 'string' || m[f].length === 0) throw invalid(`${f} is missing or not a string`, f);
  }
  for (const f of ['Subject', 'Token', 'SubscribeURL', 'UnsubscribeURL']) {
    if (m[f] !== undefined && typeof m[f] !== 'string') throw invalid(`${f} must be a string`, f);
  }
  for (const [f, v] of Object.entries(m)) {
    if (typeof v === 'string' && v.length > MAX_FIELD) throw invalid(`${f} is too long`, f);
  }
  if (m.SignatureVersion !== '1' && m.SignatureVersion !== '2') throw invalid('SignatureVersion must be "1" or "2"', 'SignatureVersion');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(m.Signature as string)) throw invalid('Signature is not base64', 'Signature');
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(m.MessageId as string)) throw invalid('MessageId is not an SNS message id', 'MessageId');
  if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/.test(m.TopicArn as string)) throw invalid('TopicArn is not an SNS topic ARN', 'TopicArn');
  if (Number.isNaN(Date.parse(m.Timestamp as string))) throw invalid('Timestamp is not a time', 'Timestamp');

  // SNS repeats type, id and topic in headers; a message whose headers say otherwise was tampered with on the way.
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  for (const [name, field] of [
    ['x-amz-sns-message-type', 'Type'],
    ['x-amz-sns-message-id', 'MessageId'],
    ['x-amz-sns-topic-arn', 'TopicArn'],
  ] as const) {
    const h = header(name);
    if (h !== undefined && h !== m[field]) throw invalid(`header ${name} does not match the body's ${field}`, field);
  }
  return m as unknown as SnsMessage;
}

/** The exact string AWS signs: the named fields in this order, each as "Name\nvalue\n". */
export function stringToSign(m: SnsMessage): string {
  const fields =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields.map((f) => `${f}\n${(m as unknown as Record<string, string>)[f]}\n`).join('');
}

function invalid(message: string, field?: string, details: Record<string, unknown> = {}): SnsError {
  return new SnsError('SNS_MESSAGE_INVALID', `not a valid SNS message: ${message}`, field ? { field, ...details } : details);
}
