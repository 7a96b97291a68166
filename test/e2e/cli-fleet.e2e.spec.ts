import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/cli';
import { Harness } from '../support/runbookd';
import { ACCOUNTS, childrenOf, FLEET_ENV, REGIONS, runbooksDir, seedDb } from './fleet-support';

/**
 * `runbookd run <runbook> --target-tag … --accounts allowed --regions … --max-concurrency 25%
 * --max-errors … --follow`, the built binary against the service and moto (3 accounts, 2
 * regions): it prints the fixed list first, a progress line as targets end, and exits by the
 * fleet's outcome.
 */
describe('runbookd run with fleet flags', () => {
  let h: Harness;
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all', seed: false, runbooksDir: runbooksDir([]), env: { ...FLEET_ENV, RUNBOOKD_WORKER_CONCURRENCY: '10' } });
    for (const account of ACCOUNTS) {
      for (const region of REGIONS) {
        const short = `${account.slice(0, 1)}${region.slice(0, 2)}`;
        await seedDb(h.moto.endpoint, { account, region, id: `cli-${short}`, tags: { environment: 'production' } }, false);
        await seedDb(h.moto.endpoint, { account, region, id: `clif-${short}`, tags: { environment: 'broken', fail: 'yes' } }, false);
      }
    }
    home = mkdtempSync(path.join(os.tmpdir(), 'rbd-cli-fleet-home-'));
    env = { HOME: home, RUNBOOKD_URL: h.baseUrl, RUNBOOKD_API_KEY: h.keys.operator };
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('shows the list, a live progress line, and exits 0 when every target passed', async () => {
    const r = await runCli(
      [
        'run',
        'fleet-probe',
        '--target-tag',
        'environment=production',
        '--accounts',
        'allowed',
        '--regions',
        REGIONS.join(','),
        '--max-concurrency',
        '25%',
        '--max-errors',
        '2',
        '-p',
        'holdSeconds=1',
        '--follow',
        '--timeout',
        '4m',
      ],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 25% of 6 targets rounds up to 2.
    expect(r.stdout).toContain('6 target(s), maxConcurrency 2, maxErrors 2:');
    for (const a of ACCOUNTS) expect(r.stdout).toContain(`arn:aws:rds:eu-west-1:${a}:db:cli-`);
    expect(r.stdout).toMatch(/fleet \(fleet\.run\) waiting: \d\/6 ended \(0 failed\), \d running, \d pending/);
    expect(r.stdout).toContain('6 passed, 0 failed, 0 skipped');
    const runId = /run (r\S+) accepted/.exec(r.stdout)![1];
    const run = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(run).toMatchObject({ state: 'succeeded', trigger: { kind: 'cli' } });
    expect(await childrenOf(h, runId)).toHaveLength(6);
  }, 300_000);

  it('exits 1 when the fleet fails past maxErrors, and refuses fleet flags without targets', async () => {
    const r = await runCli(
      [
        'run',
        'fleet-probe',
        '--target-tag',
        'environment=broken',
        '--accounts',
        'allowed',
        '--regions',
        REGIONS.join(','),
        '--max-concurrency',
        '1',
        '--max-errors',
        '1',
        '-p',
        'holdSeconds=0',
        '--follow',
        '--timeout',
        '4m',
      ],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('0 passed, 2 failed, 4 skipped');
    const usage = await runCli(['run', 'fleet-probe', '-p', 'dbInstanceIdentifier=x', '--max-errors', '2'], env);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('--max-errors is for a fleet');
    const bad = await runCli(['run', 'fleet-probe', '--target-tag', 'environment=production', '--max-errors', 'lots'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('maxErrors');
  }, 300_000);
});
