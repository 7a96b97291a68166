import { isIP } from 'node:net';
import type { EnvReader } from './env-reader';

/**
 * How refused sign-ins are slowed down (src/auth/sign-in-gate.service.ts). A source address, and
 * separately a key prefix, may fail `…Failures` times within the window at no cost; each further
 * failure locks that address (or prefix) out for a delay that starts at `baseDelaySeconds` and
 * doubles per failure up to `maxDelaySeconds`. While locked out, sign-ins are answered 429 with
 * Retry-After without the key being looked at.
 */
export interface SignInLimitConfig {
  /** RUNBOOKD_SIGN_IN_WINDOW_SECONDS: failures older than this (counted from the first) are forgotten. */
  windowSeconds: number;
  /** RUNBOOKD_SIGN_IN_ADDRESS_FAILURES: free failures per source address in the window. */
  addressFailures: number;
  /** RUNBOOKD_SIGN_IN_KEY_FAILURES: free failures per key prefix (from any address) in the window. */
  keyFailures: number;
  /** RUNBOOKD_SIGN_IN_BASE_DELAY_SECONDS: the first lockout; it doubles with every further failure. */
  baseDelaySeconds: number;
  /** RUNBOOKD_SIGN_IN_MAX_DELAY_SECONDS: the longest lockout. */
  maxDelaySeconds: number;
}

/**
 * RUNBOOKD_TRUSTED_PROXIES: the addresses (or CIDR ranges) of reverse proxies whose
 * X-Forwarded-For is believed. Unset, the source address of every request is the TCP peer's and
 * X-Forwarded-For is ignored: anyone can write that header, so believing it by default would let
 * an attacker pick a new address for every guess. Also `loopback`, `linklocal`, `uniquelocal`.
 */
export type TrustedProxies = string[];

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export function loadSignInLimitConfig(r: EnvReader): SignInLimitConfig {
  const c: SignInLimitConfig = {
    windowSeconds: r.int('RUNBOOKD_SIGN_IN_WINDOW_SECONDS', 900, 1, 86_400),
    addressFailures: r.int('RUNBOOKD_SIGN_IN_ADDRESS_FAILURES', 5, 0, 100_000),
    keyFailures: r.int('RUNBOOKD_SIGN_IN_KEY_FAILURES', 10, 0, 100_000),
    baseDelaySeconds: r.int('RUNBOOKD_SIGN_IN_BASE_DELAY_SECONDS', 1, 1, 3600),
    maxDelaySeconds: r.int('RUNBOOKD_SIGN_IN_MAX_DELAY_SECONDS', 900, 1, 86_400),
  };
  if (c.maxDelaySeconds < c.baseDelaySeconds) {
    r.problems.push(`RUNBOOKD_SIGN_IN_MAX_DELAY_SECONDS (${c.maxDelaySeconds}) must not be below RUNBOOKD_SIGN_IN_BASE_DELAY_SECONDS (${c.baseDelaySeconds})`);
  }
  return c;
}

export function loadTrustedProxies(r: EnvReader): TrustedProxies {
  const items = r.list('RUNBOOKD_TRUSTED_PROXIES');
  r.check('RUNBOOKD_TRUSTED_PROXIES', items, isProxyAddress, 'an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal');
  return items;
}

function isProxyAddress(item: string): boolean {
  if (PROXY_NAMES.has(item)) return true;
  const [addr, bits, ...rest] = item.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}
