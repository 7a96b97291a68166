import { SignInAttemptsAdapter } from '../../src/auth/sign-in-attempts.adapter';
import { AppConfig } from '../../src/config/app.config';

/** Redis away: the limiter fails open to a per-process counter with the same rules, instead of refusing every sign-in or none. */
describe('SignInAttemptsAdapter without Redis', () => {
  it('still locks an address out after its free failures, with a doubling delay, and answers at once', async () => {
    const config = new AppConfig();
    config.queue = { redisUrl: 'redis://127.0.0.1:1', prefix: 'rbt-unit' };
    const a = new SignInAttemptsAdapter(config);
    try {
      const scopes = [{ key: 'address:198.51.100.7', freeFailures: 2 }];
      const policy = { windowMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000 };
      const t0 = 1_000_000;
      const started = Date.now();
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) delays.push((await a.fail(scopes, t0 + i * 10_000, policy))[0].lockoutMs);
      expect(delays).toEqual([0, 0, 1000, 2000, 4000, 8000]);
      const now = t0 + 50_000 + 100;
      expect((await a.check(scopes, now))[0]).toEqual({ untilMs: t0 + 50_000 + 8000, blocked: 1 });
      expect((await a.check(scopes, now))[0].blocked).toBe(2);
      expect((await a.fail(scopes, t0 + 70_000, policy))[0]).toMatchObject({ failures: 7, throttled: 2 });
      // Another address is not affected.
      expect((await a.check([{ key: 'address:198.51.100.8', freeFailures: 2 }], now))[0]).toEqual({ untilMs: 0, blocked: 0 });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      a.onModuleDestroy();
    }
  });
});
