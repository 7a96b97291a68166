import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app.config';
import { createTestDatabase, TestDatabase } from '../support/database';
import { flushPrefix, uniqueQueuePrefix } from '../support/redis';
import { REDIS_URL, ROOT } from '../support/runbookd';

/**
 * A bad runbook stops boot, and the message says which file, where in it and what is wrong,
 * the way an operator reading a crash-looping pod's log needs it. Boot here is what main.ts
 * does: createApp, then init (listen would init too).
 */

const FIXTURES = path.join(__dirname, 'fixtures');

describe('boot refuses bad runbooks, naming file and place', () => {
  let db: TestDatabase;
  let stateDir: string;
  const prefix = uniqueQueuePrefix('boot');

  beforeAll(async () => {
    db = await createTestDatabase();
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-boot-'));
  });

  afterAll(async () => {
    await flushPrefix(REDIS_URL, prefix).catch(() => undefined);
    await db?.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  /** Boots like main.ts; resolves to the boot error's message, or null when boot succeeded. */
  async function bootError(runbooksDir: string): Promise<string | null> {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL,
      RUNBOOKD_QUEUE_PREFIX: prefix,
      RUNBOOKD_RUNBOOKS_DIR: runbooksDir,
      RUNBOOKD_STATE_DIR: stateDir,
      RUNBOOKD_ROLE: 'all',
      RUNBOOKD_LOG_LEVEL: 'error',
      AWS_REGION: 'eu-west-1',
      PORT: '0',
    });
    let app: NestFastifyApplication | undefined;
    try {
      app = await createApp(config);
      await app.init();
      return null;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await app?.close().catch(() => undefined);
    }
  }

  it('boots with the shipped runbooks (the failures below are the fixtures, not the setup)', async () => {
    expect(await bootError(path.join(ROOT, 'runbooks'))).toBeNull();
  });

  it('a YAML syntax error names the file and the line', async () => {
    const file = path.join(FIXTURES, 'broken-yaml', 'yaml-syntax.yaml');
    const message = await bootError(path.dirname(file));
    expect(message).not.toBeNull();
    expect(message).toContain(file);
    expect(message).toMatch(/line 9\b/);
  });

  it('an unknown step type names the file, steps[1].uses and the unknown name', async () => {
    const file = path.join(FIXTURES, 'broken-step', 'unknown-step.yaml');
    const message = await bootError(path.dirname(file));
    expect(message).not.toBeNull();
    expect(message).toContain(`${file}: steps[1].uses`);
    expect(message).toContain('rds.make-coffee');
    // Says what would have been right.
    expect(message).toContain('core.noop');
    expect(message).not.toContain('steps[0]');
  });

  it('an expression leading nowhere names the file, where it is and the path', async () => {
    const file = path.join(FIXTURES, 'broken-expression', 'bad-expression.yaml');
    const message = await bootError(path.dirname(file));
    expect(message).not.toBeNull();
    expect(message).toContain(`${file}: steps[1].with.echo`);
    expect(message).toContain('steps.nope.x');
    expect(message).toMatch(/no earlier step "nope"/);
  });
});
