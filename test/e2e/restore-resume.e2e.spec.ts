import { seedBackups } from '../../scripts/sandbox/seed-backups';
import { exited, Harness, REGION } from '../support/runbookd';

/**
 * A restore test whose worker is SIGKILLed is resumed by another worker and starts exactly one
 * restore: the API runs in the test process, workers are child processes, and the recording
 * proxy in front of moto counts the restore calls that really went out.
 */
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const stepOf = (run: any, id: string) => run.steps.find((s: any) => s.id === id);

describe('backup-verification resumed after a SIGKILL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
    await seedBackups({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);
  beforeEach(() => h.proxy.clear());
  afterEach(async () => {
    for (const w of h.workers) if (w.exitCode === null && w.signalCode === null) h.kill(w);
    await Promise.all(h.workers.map(exited));
  });

  const start = async () => {
    const res = await h.request('POST', '/v1/runbooks/backup-verification/runs', {
      key: h.keys.operator,
      body: { parameters: { dbInstanceIdentifier: 'billing-postgres', pollSeconds: 0.2, drRegion: '' } },
    });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  it('a worker killed during the wait for the restored copy: another resumes the wait, one restore in all', async () => {
    const a = await h.startWorker();
    let armed = true;
    // The first look at the copy after the restore call is the wait step's: the restore step's
    // success is committed before the next step starts.
    h.proxy.onRequest('DescribeDBInstances', (info) => {
      if (!armed || h.proxy.count('RestoreDBInstanceFromDBSnapshot') !== 1 || !info.body.toString().includes('rbd-')) return;
      armed = false;
      h.kill(a);
    });
    const runId = await start();
    await exited(a);
    expect(a.signalCode).toBe('SIGKILL');
    const between = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(stepOf(between, 'restore').state).toBe('succeeded');
    expect(stepOf(between, 'available')?.state).not.toBe('succeeded');

    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 50_000);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('RestoreDBInstanceFromDBSnapshot')).toBe(1);
    expect(h.proxy.count('DeleteDBInstance')).toBe(1);
    expect(stepOf(run, 'restore').attempts).toBe(1);
    const audit = (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items as any[];
    expect(audit.some((e) => e.kind === 'run.resumed')).toBe(true);
    expect(audit.filter((e) => e.kind === 'aws.request' && e.data.operation === 'RestoreDBInstanceFromDBSnapshot')).toHaveLength(1);
  }, 60_000);

  it('a worker killed inside the restore call (after RDS acted, before it heard): the resumed step finds the copy and does not call again', async () => {
    const a = await h.startWorker();
    let armed = true;
    h.proxy.onRequest(
      'RestoreDBInstanceFromDBSnapshot',
      () => {
        if (!armed) return;
        armed = false;
        h.kill(a);
      },
      'answered',
    );
    const runId = await start();
    await exited(a);
    expect(h.proxy.count('RestoreDBInstanceFromDBSnapshot')).toBe(1);

    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 50_000);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('RestoreDBInstanceFromDBSnapshot')).toBe(1);
    const restore = stepOf(run, 'restore');
    expect(restore.attempts).toBe(2);
    expect(restore.output.resumed).toBe(true);
    expect(stepOf(run, 'delete-copy').output.outcome).toBe('deleted');
  }, 60_000);
});
