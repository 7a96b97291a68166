import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { AuthError } from './auth.error';
import type { Principal } from './principal';
import { SignInAttemptsAdapter, type AttemptScope } from './sign-in-attempts.adapter';

/**
 * How someone presented a key:
 * - `api-key`: the console's sign-in form (POST /v1/session), which opens a session;
 * - `bearer`: an API key in the Authorization header of any API call. Each such call is a
 *   sign-in of its own, so its refusals are audited and limited exactly like the form's (else
 *   the limit is sidestepped by guessing against GET /v1/runs); its successes are not audited,
 *   as that would be one record per API call; what the key then does is audited under its name.
 * SSO (`oidc`) is audited by OidcSignInService and not limited here: the identity provider
 * checks the password, and a refused callback proves nothing about any key.
 */
export type KeySignInMethod = 'api-key' | 'bearer';

/** A runbookd key looks like this; only then is its prefix (rbd_ and 4 characters, of 47) shown. */
const RUNBOOKD_KEY_SHAPE = /^rbd_[A-Za-z0-9_-]{20,}$/;
const PREFIX_LENGTH = 8;

/**
 * What an audit record and the limiter may know of a presented key: never the key. The prefix
 * only for a token shaped like a runbookd key (for anything else, a password or an AWS secret
 * pasted into the wrong box, even a prefix could be a real secret's start); the fingerprint is
 * the first 16 hex digits of its SHA-256, the hash runbookd already keeps of configured keys.
 */
export function keyIdentity(token: string): { keyPrefix: string | null; keyFingerprint: string } {
  return {
    keyPrefix: RUNBOOKD_KEY_SHAPE.test(token) ? token.slice(0, PREFIX_LENGTH) : null,
    keyFingerprint: createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16),
  };
}

/**
 * Sign-in's audit and rate limit. `admit` is asked before a presented key is looked at: while
 * the source address, or the key's prefix, is locked out it refuses with 429 (SIGN_IN_THROTTLED)
 * and Retry-After, so a locked-out guesser learns nothing about its guesses. `refused` counts a
 * failure against both and audits it; `succeeded` audits a sign-in. A right key from another
 * address is unaffected by one address's lockout.
 *
 * A flood is audited without one record per 429: the first 429 of each lockout is a record
 * (reason `rate_limited`), and the next refusal record carries how many 429s came between
 * (`throttled`), so the audit log accounts for every attempt without growing by one row each.
 */
@Injectable()
export class SignInGate {
  private readonly logger = new Logger('SignIn');

  constructor(
    private readonly config: AppConfig,
    private readonly attempts: SignInAttemptsAdapter,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /** Throws AuthError('SIGN_IN_THROTTLED') while `source` or this token's prefix is locked out. */
  async admit(method: KeySignInMethod, source: string, token: string | undefined): Promise<void> {
    const scopes = this.scopes(source, token);
    const now = this.clock.nowMs();
    const states = await this.attempts.check(scopes, now);
    let worst = -1;
    states.forEach((s, i) => {
      if (s.untilMs > now && (worst === -1 || s.untilMs > states[worst].untilMs)) worst = i;
    });
    if (worst === -1) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((states[worst].untilMs - now) / 1000));
    const scope = worst === 0 ? 'address' : 'key';
    if (states.some((s) => s.blocked === 1)) {
      await this.record({
        kind: 'auth.sign-in.refused',
        actor: 'anonymous',
        data: { method, reason: 'rate_limited', source, scope, retryAfterSeconds, ...(token === undefined ? {} : keyIdentity(token)) },
      });
    }
    const what = scope === 'address' ? `from ${source}` : 'with this key prefix';
    throw new AuthError(
      'SIGN_IN_THROTTLED',
      `too many refused sign-ins ${what}: wait ${retryAfterSeconds} s before trying again (each further refusal doubles the wait)`,
      { reason: 'rate_limited', scope, retryAfterSeconds },
      true,
    );
  }

  /** A presented key (or a malformed header: `token` undefined) was refused: counted, then audited. */
  async refused(method: KeySignInMethod, source: string, token: string | undefined, reason: string): Promise<void> {
    const l = this.config.auth.signInLimits;
    const scopes = this.scopes(source, token);
    const outcomes = await this.attempts.fail(scopes, this.clock.nowMs(), {
      windowMs: l.windowSeconds * 1000,
      baseDelayMs: l.baseDelaySeconds * 1000,
      maxDelayMs: l.maxDelaySeconds * 1000,
    });
    const lockout = Math.max(...outcomes.map((o) => o.lockoutMs));
    await this.record({
      kind: 'auth.sign-in.refused',
      actor: 'anonymous',
      data: {
        method,
        reason,
        source,
        ...(token === undefined ? { keyPrefix: null, keyFingerprint: null } : keyIdentity(token)),
        failures: outcomes[0].failures,
        throttled: outcomes[0].throttled,
        lockedOutSeconds: lockout > 0 ? Math.ceil(lockout / 1000) : 0,
      },
    });
  }

  /** Throws when the record cannot be written: a sign-in nobody could later find in the audit log is refused (500). */
  async succeeded(method: KeySignInMethod, source: string, principal: Principal): Promise<void> {
    await this.audit.append({ kind: 'auth.sign-in.succeeded', actor: principal.name, data: { method, source, via: principal.via, groups: principal.groups } });
  }

  private scopes(source: string, token: string | undefined): AttemptScope[] {
    const l = this.config.auth.signInLimits;
    const scopes: AttemptScope[] = [{ key: `address:${source}`, freeFailures: l.addressFailures }];
    if (token !== undefined) {
      const id = keyIdentity(token);
      scopes.push({ key: id.keyPrefix === null ? `fingerprint:${id.keyFingerprint}` : `prefix:${id.keyPrefix}`, freeFailures: l.keyFailures });
    }
    return scopes;
  }

  /** A refusal whose audit write fails (the database away) is still a refusal, not a 500: the failure is logged. */
  private async record(input: Parameters<AuditService['append']>[0]): Promise<void> {
    await this.audit.append(input).catch((e: unknown) => this.logger.error(`could not audit ${input.kind}: ${(e as Error).message}`));
  }
}
