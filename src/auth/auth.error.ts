import { CodedError } from '../common/coded-error';

/**
 * UNAUTHENTICATED: no usable API key was presented (HTTP 401).
 * FORBIDDEN: the key is valid but its role is below what the route needs (HTTP 403).
 * TARGET_NOT_ALLOWED: a run names an account, role or region runbookd is not configured to act in (HTTP 403).
 * IDP_UNAVAILABLE: the OpenID provider could not be reached or answered nonsense during an SSO sign-in (HTTP 502).
 * SIGN_IN_THROTTLED: too many refused sign-ins from this address or with this key prefix; details.retryAfterSeconds (HTTP 429, Retry-After).
 *
 * Messages and details never contain the presented header or token: a key pasted into the wrong
 * place (no scheme, wrong scheme) would otherwise be echoed into responses and logs.
 */
export type AuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'TARGET_NOT_ALLOWED' | 'IDP_UNAVAILABLE' | 'SIGN_IN_THROTTLED';

/** Why authentication failed; lets the HTTP layer pick `WWW-Authenticate: Bearer error="invalid_token"`. */
export type UnauthenticatedReason = 'missing' | 'malformed' | 'unknown_key';

export class AuthError extends CodedError<AuthErrorCode> {
  readonly area = 'auth';
}
