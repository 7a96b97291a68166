/**
 * The one shape every area's errors take. Each area declares its own code union and a subclass;
 * `http/http-error.filter.ts` maps every code to an HTTP status with an exhaustive switch,
 * so services never know about HTTP and a new code cannot ship without a status.
 */
export abstract class CodedError<C extends string = string> extends Error {
  abstract readonly area: string;

  constructor(
    readonly code: C,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** True when the same call may succeed later (throttling, a resource that is busy). */
    readonly retryable = false,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { code: C; message: string; details: Record<string, unknown>; retryable: boolean } {
    return { code: this.code, message: this.message, details: this.details, retryable: this.retryable };
  }
}

export type RequestErrorCode = 'INVALID_REQUEST' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'URI_TOO_LONG' | 'NOT_FOUND' | 'RATE_LIMITED';

/** A malformed HTTP request (body shape, query string, path) before any service sees it. */
export class RequestError extends CodedError<RequestErrorCode> {
  readonly area = 'request';
}
