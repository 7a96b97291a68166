import { CodedError } from '../common/coded-error';

export type AwsErrorCode =
  | 'AWS_THROTTLED'
  | 'AWS_INVALID_STATE'
  | 'AWS_NOT_FOUND'
  /**
   * A create refused because the name is taken. For a name runbookd derives from the run it
   * usually means an earlier request of this run landed late: the step looks and adopts it.
   */
  | 'AWS_ALREADY_EXISTS'
  | 'AWS_ACCESS_DENIED'
  | 'AWS_INVALID_INPUT'
  | 'AWS_UNAVAILABLE'
  /** No answer within the configured connect or request timeout: AWS may or may not have acted. */
  | 'AWS_TIMEOUT'
  | 'AWS_DRY_RUN_VIOLATION'
  /** aws.wait-until met its failWhen condition: waiting longer cannot help. */
  | 'AWS_WAIT_FAILURE_STATE'
  /** aws.wait-until's condition did not hold within its timeoutSeconds. */
  | 'AWS_WAIT_TIMEOUT'
  | 'AWS_FAILED';

/**
 * What an AWS failure may carry outward. Deliberately never the request input: error details
 * end up in step results, reports and HTTP responses, and inputs can hold secrets.
 */
export interface AwsErrorDetails {
  service: string;
  operation: string;
  /** The SDK's error name, e.g. `InvalidDBClusterStateFault`; lets a step tell faults apart. */
  awsCode?: string;
  requestId?: string | null;
  httpStatus?: number | null;
  [extra: string]: unknown;
}

/** Worth trying the same call again later: the resource is busy or AWS asked us to slow down. */
const RETRYABLE: ReadonlySet<AwsErrorCode> = new Set<AwsErrorCode>(['AWS_THROTTLED', 'AWS_INVALID_STATE', 'AWS_UNAVAILABLE', 'AWS_TIMEOUT']);

export class AwsStepError extends CodedError<AwsErrorCode> {
  readonly area = 'aws';
  declare readonly details: AwsErrorDetails;

  /** Retryability follows from the code alone, so two errors with one code never disagree. */
  constructor(code: AwsErrorCode, message: string, details: AwsErrorDetails) {
    super(code, message, details, RETRYABLE.has(code));
  }
}

const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
]);

const ACCESS_DENIED_NAMES = new Set([
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);

const INVALID_INPUT_NAMES = new Set(['ValidationError', 'ValidationException', 'MissingParameter', 'InvalidAction', 'MalformedQueryString']);

/** The SDK's own connect/request timeouts (NodeHttpHandler), and AWS's word for the same. */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

const UNAVAILABLE_NAMES = new Set([
  'NetworkingError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
]);

/** Node socket errors: the endpoint did not answer, which says nothing about the request itself. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  errors?: unknown;
  $fault?: unknown;
  $retryable?: unknown; // { throttling?: boolean } when the SDK sets it
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

function classify(name: string, status: number | undefined, e: SdkErrorLike): AwsErrorCode {
  const retryable = e.$retryable as { throttling?: boolean } | undefined;
  if (THROTTLING_NAMES.has(name) || retryable?.throttling === true || status === 429) return 'AWS_THROTTLED';
  if (name.startsWith('AccessDenied') || ACCESS_DENIED_NAMES.has(name)) return 'AWS_ACCESS_DENIED';
  if (name.endsWith('StateFault') || name.includes('InvalidState') || name.includes('InvalidDBClusterStateFault') || name.includes('InvalidDBInstanceState')) {
    return 'AWS_INVALID_STATE';
  }
  if (name.includes('NotFound')) return 'AWS_NOT_FOUND';
  if (name.includes('AlreadyExists')) return 'AWS_ALREADY_EXISTS';
  if (INVALID_INPUT_NAMES.has(name) || name.startsWith('InvalidParameter')) return 'AWS_INVALID_INPUT';
  if (TIMEOUT_NAMES.has(name) || networkCodeOf(e) === 'ETIMEDOUT') return 'AWS_TIMEOUT';
  if (UNAVAILABLE_NAMES.has(name) || isNetworkError(e) || e.$fault === 'server' || (status !== undefined && status >= 500)) {
    return 'AWS_UNAVAILABLE';
  }
  // Only the status is left to go on when the service sent an error name we do not know.
  if (status === 403) return 'AWS_ACCESS_DENIED';
  if (status === 404) return 'AWS_NOT_FOUND';
  return 'AWS_FAILED';
}

function isNetworkError(e: SdkErrorLike): boolean {
  const code = networkCodeOf(e);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  // Node's happy-eyeballs connect reports one AggregateError over the addresses it tried.
  if (Array.isArray(e.errors)) return e.errors.some((inner) => inner && typeof inner === 'object' && isNetworkError(inner as SdkErrorLike));
  return false;
}

/**
 * The socket error's code, also when the SDK re-wrapped it: an error from another realm (a VM
 * context, Jest's sandbox) fails `instanceof Error` and arrives as a plain
 * `Error("AWS SDK error wrapper for Error: connect ECONNREFUSED ...")` with the code only in the text.
 */
function networkCodeOf(e: SdkErrorLike): string | undefined {
  if (typeof e.code === 'string') return e.code;
  if (typeof e.message !== 'string') return undefined;
  for (const [word] of e.message.matchAll(/\bE[A-Z]{4,}\b/g)) if (NETWORK_CODES.has(word)) return word;
  return undefined;
}

const MAX_MESSAGE = 500;

/** Turn whatever the SDK (or the network below it) threw into the one coded error steps see. */
export function toAwsStepError(err: unknown, where: { service: string; operation: string }): AwsStepError {
  if (err instanceof AwsStepError) return err;
  const e: SdkErrorLike = err !== null && typeof err === 'object' ? err : { message: String(err) };
  const rawName = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
  // A bare socket error is named `Error`; its code says more.
  const awsCode = rawName === 'Error' ? (networkCodeOf(e) ?? rawName) : rawName;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const code = classify(awsCode, status, e);
  const rawMessage = typeof e.message === 'string' ? e.message : '';
  const text = rawMessage.length > MAX_MESSAGE ? `${rawMessage.slice(0, MAX_MESSAGE)}…` : rawMessage;
  return new AwsStepError(code, `${where.service}:${where.operation} failed (${awsCode})${text ? `: ${text}` : ''}`, {
    service: where.service,
    operation: where.operation,
    awsCode,
    requestId: e.$metadata?.requestId ?? null,
    httpStatus: status ?? null,
  });
}
