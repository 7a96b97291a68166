import { HealthController } from '../../src/observability/health.controller';
import { redactText } from '../../src/common/redact';
import type { Database } from '../../src/persistence/database';
import type { RunQueue } from '../../src/engine/run-queue.adapter';

describe('free text that is logged or answered passes the redactor', () => {
  it('hides URL credentials, secret-named pairs, Bearer tokens and known secret values in a stack trace', () => {
    const stack = [
      'Error: connect failed to postgres://runbookd:Pg-Secret-91@db.internal:5432/runbookd',
      '    while sending password=hunter2hunter2 token: "tok-123456789" to https://hooks.example/x',
      '    Authorization: Bearer abcdefghijklmnop.qrs',
      '    echo canary-value-7f3a in the input; passed=3 bypass=true',
    ].join('\n');
    const out = redactText(stack, ['canary-value-7f3a']);
    for (const leak of ['Pg-Secret-91', 'hunter2hunter2', 'tok-123456789', 'abcdefghijklmnop', 'canary-value-7f3a']) expect(out).not.toContain(leak);
    // Not secrets: the host, the words around them, keys that only contain a secret-looking substring.
    expect(out).toContain('db.internal:5432');
    expect(out).toContain('passed=3 bypass=true');
  });

  it('/health/ready says which dependency is down, not its error text', async () => {
    const db = {
      query: async () => {
        throw new Error('password authentication failed for user "runbookd" at 10.1.2.3');
      },
    } as unknown as Database;
    const queue = { ping: async () => 'PONG' } as unknown as RunQueue;
    let sent: { code: number; body: any } = { code: 0, body: null };
    const reply = {
      status(code: number) {
        sent.code = code;
        return {
          send: (body: unknown) => {
            sent = { code, body };
          },
        };
      },
    };
    await new HealthController(db, queue).ready(reply as any);
    expect(sent.code).toBe(503);
    expect(sent.body).toEqual({ status: 'unavailable', checks: { database: { ok: false, status: 'down' }, redis: { ok: true } } });
    expect(JSON.stringify(sent.body)).not.toMatch(/password|10\.1\.2\.3/);
  });
});
