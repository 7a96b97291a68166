import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Harness } from '../support/runbookd';

/**
 * writeOnly parameters are sealed at rest (AES-256-GCM): a canary passed as a secret, top-level
 * and nested, directly and through a child run, reaches the steps in plain text (they report its
 * length and prefix) yet appears nowhere in a pg_dump of the database. A run sealed with a key
 * that was rotated out still runs when the old key is listed, and fails naming the key when not.
 */

const FIXTURES = path.join(__dirname, 'fixtures', 'secrets');
const run = promisify(execFile);
const keyB64 = () => randomBytes(32).toString('base64');
const canary = () => `canary-${randomBytes(9).toString('hex')}`;

async function dump(url: string): Promise<string> {
  const { stdout } = await run('pg_dump', ['--data-only', url], { maxBuffer: 256 * 1024 * 1024 });
  expect(stdout).toContain('COPY public.runs'); // the dump really holds the runs
  return stdout;
}

const stepOf = (view: any, id: string) => view.steps.find((s: any) => s.id === id);

describe('secrets at rest (all-in-one process)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all', runbooksDir: FIXTURES, seed: false, env: { RUNBOOKD_SECRETS_KEY: keyB64(), RUNBOOKD_SECRETS_KEY_ID: 'k1' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('steps get the plain values, top-level, nested and in a child run; the database holds none of them', async () => {
    const token = canary();
    const password = canary();
    const started = await h.request('POST', '/v1/runbooks/secret-use/runs', {
      key: h.keys.operator,
      body: { parameters: { token, conn: { host: 'db.internal', password } } },
    });
    expect(started.status).toBe(202);
    const done = await h.waitForRun(started.body.id);
    expect(done.state).toBe('succeeded');
    const view = (await h.request('GET', `/v1/runs/${done.id}`)).body;
    // Only the plain values give these: the steps resolved the opened parameters.
    expect(stepOf(view, 'check').output.echo).toEqual({ firstLength: token.length, firstIsCanary: true, nestedLength: password.length, host: 'db.internal' });
    expect(view.parameters).toEqual({ token: '[REDACTED]', conn: { host: 'db.internal', password: '[REDACTED]' } });
    expect(stepOf(view, 'hand-on').state).toBe('succeeded');

    const parentToken = canary();
    const parent = await h.request('POST', '/v1/runbooks/secret-parent/runs', { key: h.keys.operator, body: { parameters: { token: parentToken } } });
    expect(parent.status).toBe(202);
    expect((await h.waitForRun(parent.body.id)).state).toBe('succeeded');
    const childId = stepOf((await h.request('GET', `/v1/runs/${parent.body.id}`)).body, 'child').output.childRunId;
    const child = (await h.request('GET', `/v1/runs/${childId}`)).body;
    expect(child.state).toBe('succeeded');
    expect(stepOf(child, 'check').output.echo).toMatchObject({ firstLength: parentToken.length, firstIsCanary: true, nestedLength: parentToken.length });

    const text = await dump(h.db.url);
    for (const secret of [token, password, parentToken]) expect(text).not.toContain(secret);
    // ... because they are sealed there, not because the runs were never written.
    expect(text).toContain('"$enc": "v1"');
    expect(text).toContain('"kid": "k1"');
    expect(text).toContain(done.id);
  });
});

describe('secrets key rotation (api process, worker processes with other keys)', () => {
  let h: Harness;
  const keyA = keyB64();
  const keyB = keyB64();
  beforeAll(async () => {
    // The api process seals with k1; no worker runs in it, so runs wait for the workers below.
    h = await Harness.start({ role: 'api', runbooksDir: FIXTURES, seed: false, env: { RUNBOOKD_SECRETS_KEY: keyA, RUNBOOKD_SECRETS_KEY_ID: 'k1' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const start = async (token: string) => {
    const r = await h.request('POST', '/v1/runbooks/secret-use/runs', {
      key: h.keys.operator,
      body: { parameters: { token, conn: { host: 'h', password: token } } },
    });
    expect(r.status).toBe(202);
    return r.body.id as string;
  };

  it('a run sealed with a rotated-out key runs when the old key is listed, and fails naming the key when it is not', async () => {
    const token = canary();
    const first = await start(token);
    const rotated = await h.startWorker({ RUNBOOKD_SECRETS_KEY: keyB, RUNBOOKD_SECRETS_KEY_ID: 'k2', RUNBOOKD_SECRETS_OLD_KEYS: `k1:${keyA}` });
    const ok = await h.waitForRun(first);
    expect(ok.state).toBe('succeeded');
    expect(stepOf((await h.request('GET', `/v1/runs/${first}`)).body, 'check').output.echo.firstLength).toBe(token.length);
    h.kill(rotated);

    const second = await start(canary());
    await h.startWorker({ RUNBOOKD_SECRETS_KEY: keyB, RUNBOOKD_SECRETS_KEY_ID: 'k2' });
    const failed = await h.waitForRun(second);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'SECRETS_KEY_UNKNOWN', details: { keyId: 'k1' } });
    expect(failed.error.message).toMatch(/"k1".*RUNBOOKD_SECRETS_OLD_KEYS/);
    // No step ran on the sealed values.
    expect(failed.steps.every((s: any) => s.state !== 'succeeded')).toBe(true);
  });
});
