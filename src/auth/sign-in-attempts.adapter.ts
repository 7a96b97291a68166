import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import IORedis from 'ioredis';
import { AppConfig } from '../config/app.config';

/** One counter the limiter keeps: a source address or a key prefix, with its free failures. */
export interface AttemptScope {
  key: string;
  freeFailures: number;
}

/** A scope as `check` found it: locked out until `untilMs` (0: not locked), `blocked` answers 429 so far in this lockout. */
export interface ScopeState {
  untilMs: number;
  blocked: number;
}

/** What one failure did to a scope: its failures so far, the lockout it started (0: none), the 429s answered since the last failure. */
export interface FailureOutcome {
  failures: number;
  lockoutMs: number;
  throttled: number;
}

export interface FailurePolicy {
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Most counters the in-memory fallback keeps; past that the oldest are dropped (a flood of addresses cannot grow it without bound). */
const MEMORY_MAX_ENTRIES = 10_000;
/** A Redis that answers nothing for this long counts as down for this request. */
const REDIS_COMMAND_TIMEOUT_MS = 500;
const DOWN_WARNING_INTERVAL_MS = 60_000;

/*
 * Both scripts take every scope of one attempt at once, so an address and a key prefix are
 * read and counted in one atomic step on the one Redis every API process shares.
 * A counter hash holds n (failures), until (lockout end, ms) and blocked (429s in this lockout).
 */
const CHECK_LUA = `
local out = {}
local now = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  local u = tonumber(redis.call('HGET', k, 'until') or '0')
  local b = 0
  if u > now then b = redis.call('HINCRBY', k, 'blocked', 1) else u = 0 end
  out[#out + 1] = u
  out[#out + 1] = b
end
return out`;

const FAIL_LUA = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local out = {}
for i, k in ipairs(KEYS) do
  local n = redis.call('HINCRBY', k, 'n', 1)
  local throttled = tonumber(redis.call('HGET', k, 'blocked') or '0')
  redis.call('HSET', k, 'blocked', 0)
  local free = tonumber(ARGV[4 + i])
  local delay = 0
  if n > free then
    delay = math.floor(math.min(base * (2 ^ math.min(n - free - 1, 40)), max))
    redis.call('HSET', k, 'until', string.format('%d', now + delay))
  end
  redis.call('PEXPIRE', k, window + delay)
  out[#out + 1] = n
  out[#out + 1] = delay
  out[#out + 1] = throttled
end
return out`;

interface MemoryEntry {
  n: number;
  untilMs: number;
  blocked: number;
  expiresAtMs: number;
}

/**
 * Where the sign-in limiter keeps its counters: Redis, shared by every API process, so an
 * attacker spreading guesses over replicas is counted once. If Redis cannot be reached the
 * limiter fails open to a counter in this process (the same rules, per process) rather than
 * refusing every sign-in: the API keeps answering while Redis is away (as accepting runs does),
 * and a flood is still slowed, by each process alone, until Redis is back.
 */
@Injectable()
export class SignInAttemptsAdapter implements OnModuleDestroy {
  private readonly logger = new Logger('SignInLimiter');
  private readonly redis: IORedis;
  private readonly prefix: string;
  private readonly memory = new Map<string, MemoryEntry>();
  private lastDownWarningMs = 0;

  constructor(config: AppConfig) {
    this.prefix = `${config.queue.prefix}:sign-in:`;
    // No offline queue and a command timeout: a Redis that is away fails a check at once instead of holding the request.
    this.redis = new IORedis(config.queue.redisUrl, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      lazyConnect: false,
    });
    this.redis.on('error', () => undefined); // reported by `down` when a check needs it, not per reconnect attempt
  }

  async check(scopes: AttemptScope[], nowMs: number): Promise<ScopeState[]> {
    try {
      const flat = (await this.redis.eval(CHECK_LUA, scopes.length, ...scopes.map((s) => this.prefix + s.key), nowMs)) as number[];
      return scopes.map((_, i) => ({ untilMs: Number(flat[i * 2]), blocked: Number(flat[i * 2 + 1]) }));
    } catch (err) {
      this.down(err, nowMs);
      return scopes.map((s) => {
        const e = this.entry(s.key, nowMs);
        if (e === undefined || e.untilMs <= nowMs) return { untilMs: 0, blocked: 0 };
        e.blocked += 1;
        return { untilMs: e.untilMs, blocked: e.blocked };
      });
    }
  }

  async fail(scopes: AttemptScope[], nowMs: number, policy: FailurePolicy): Promise<FailureOutcome[]> {
    try {
      const flat = (await this.redis.eval(
        FAIL_LUA,
        scopes.length,
        ...scopes.map((s) => this.prefix + s.key),
        nowMs,
        policy.windowMs,
        policy.baseDelayMs,
        policy.maxDelayMs,
        ...scopes.map((s) => s.freeFailures),
      )) as number[];
      return scopes.map((_, i) => ({ failures: Number(flat[i * 3]), lockoutMs: Number(flat[i * 3 + 1]), throttled: Number(flat[i * 3 + 2]) }));
    } catch (err) {
      this.down(err, nowMs);
      return scopes.map((s) => this.failInMemory(s, nowMs, policy));
    }
  }

  private failInMemory(scope: AttemptScope, nowMs: number, policy: FailurePolicy): FailureOutcome {
    const e = this.entry(scope.key, nowMs) ?? { n: 0, untilMs: 0, blocked: 0, expiresAtMs: 0 };
    e.n += 1;
    const throttled = e.blocked;
    e.blocked = 0;
    let delay = 0;
    if (e.n > scope.freeFailures) {
      delay = Math.floor(Math.min(policy.baseDelayMs * 2 ** Math.min(e.n - scope.freeFailures - 1, 40), policy.maxDelayMs));
      e.untilMs = nowMs + delay;
    }
    e.expiresAtMs = nowMs + policy.windowMs + delay;
    this.memory.delete(scope.key); // re-inserted last: Map order is then oldest-touched first
    this.memory.set(scope.key, e);
    while (this.memory.size > MEMORY_MAX_ENTRIES) this.memory.delete(this.memory.keys().next().value as string);
    return { failures: e.n, lockoutMs: delay, throttled };
  }

  private entry(key: string, nowMs: number): MemoryEntry | undefined {
    const e = this.memory.get(key);
    if (e !== undefined && e.expiresAtMs <= nowMs) {
      this.memory.delete(key);
      return undefined;
    }
    return e;
  }

  private down(err: unknown, nowMs: number): void {
    if (nowMs - this.lastDownWarningMs < DOWN_WARNING_INTERVAL_MS) return;
    this.lastDownWarningMs = nowMs;
    this.logger.warn(`redis unavailable (${(err as Error).message}): sign-in failures are counted in this process only until it is back`);
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
