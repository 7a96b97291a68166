import { copyFileSync, writeFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, spawnCli } from '../support/cli';
import { freePort } from '../support/moto';
import { eventually, Harness, ROOT } from '../support/runbookd';

/**
 * The `runbookd` command as an on-call engineer runs it: the built binary, spawned, against a
 * running service (PostgreSQL, Redis, moto). The exit code is the contract scripts rely on.
 */
describe('runbookd CLI against the service', () => {
  let h: Harness;
  let home: string;
  let runbooksDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    // The shipped runbooks plus a slow one to cancel and to outlast --timeout.
    runbooksDir = mkdtempSync(path.join(os.tmpdir(), 'rbd-cli-runbooks-'));
    for (const f of readdirSync(path.join(ROOT, 'runbooks')).filter((n) => n.endsWith('.yaml')))
      copyFileSync(path.join(ROOT, 'runbooks', f), path.join(runbooksDir, f));
    copyFileSync(path.join(ROOT, 'test/e2e/fixtures/cli/cli-sleep.yaml'), path.join(runbooksDir, 'cli-sleep.yaml'));
    h = await Harness.start({ role: 'all', runbooksDir });
    home = mkdtempSync(path.join(os.tmpdir(), 'rbd-cli-home-'));
    env = { HOME: home, RUNBOOKD_URL: h.baseUrl, RUNBOOKD_API_KEY: h.keys.operator };
  });
  afterAll(async () => {
    await h?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(runbooksDir, { recursive: true, force: true });
  });

  it('follows a failover test step by step, prints the switch time and exits 0', async () => {
    const r = await runCli(
      ['run', 'failover-test', '-p', 'clusterIdentifier=orders-aurora', '-p', 'failback=false', '--reason', 'cli test', '--follow', '--timeout', '2m'],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/▶ failover \(rds\.failover\) started/);
    expect(r.stdout).toMatch(/✓ failover \(rds\.failover\) succeeded/);
    expect(r.stdout).toMatch(/▶ switch \(rds\.wait-for-failover\) started/);
    expect(r.stdout).toMatch(/Failover switch time: \d+(\.\d+)? s/);
    expect(r.stdout).toMatch(/✓ pass Switch time within target/);
    // Not a terminal: no colour codes for whatever reads the output.
    expect(r.stdout).not.toContain('\u001b[');
    const runId = /run (r\S+) accepted/.exec(r.stdout)![1];
    const run = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(run).toMatchObject({ state: 'succeeded', actor: 'otto', reason: 'cli test', parameters: { failback: false } });
  });

  it('exits 1 when the followed run fails, and says which check failed', async () => {
    const r = await runCli(['run', 'failover-test', '-p', 'clusterIdentifier=orders-aurora', '-p', 'maxSwitchSeconds=0.000001', '--follow'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failed — FINDINGS_FAILED/);
    expect(r.stdout).toMatch(/✗ FAIL Switch time within target/);
  });

  it('exits 3 when the followed run is cancelled (by another `runbookd cancel`), and 5 when --timeout runs out first', async () => {
    const follow = spawnCli(['run', 'cli-sleep', '-p', 'seconds=60', '--follow'], env);
    const runId = await eventually(() => /run (r\S+) accepted/.exec(follow.stdout())?.[1], 20_000, 'the run id');
    await eventually(() => (follow.stdout().includes('nap (core.sleep) waiting') ? true : undefined), 20_000, 'the sleep to start');
    const cancel = await runCli(['cancel', runId], env);
    expect(cancel.code).toBe(0);
    const r = await follow.done;
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/cleanup tidy \(core\.noop\) succeeded/);
    expect(r.stdout).toMatch(new RegExp(`run ${runId} cancelled`));

    const slow = await runCli(['run', 'cli-sleep', '-p', 'seconds=60', '--follow', '--timeout', '2s'], env);
    expect(slow.code).toBe(5);
    expect(slow.stdout).toMatch(/still (running|waiting) after the --timeout/);
    const slowId = /run (r\S+) accepted/.exec(slow.stdout)![1];
    expect((await h.request('GET', `/v1/runs/${slowId}`)).body.state).not.toBe('cancelled');
    await runCli(['cancel', slowId], env);
  });

  it('prints one parseable JSON document with --json', async () => {
    const runs = await runCli(['runs', '--runbook', 'failover-test', '--limit', '5', '--json'], env);
    expect(runs.code).toBe(0);
    const list = JSON.parse(runs.stdout);
    expect(list.items.length).toBeGreaterThanOrEqual(2);
    expect(list.items.every((r: any) => r.runbookId === 'failover-test')).toBe(true);

    const show = JSON.parse((await runCli(['show', list.items[0].id, '--json'], env)).stdout);
    expect(show.steps.map((s: any) => s.id)).toContain('failover');
    expect(JSON.parse((await runCli(['runbooks', '--json'], env)).stdout).items.map((r: any) => r.id)).toContain('cli-sleep');
    expect(JSON.parse((await runCli(['runbook', 'failover-test', '--json'], env)).stdout).parameters.properties.clusterIdentifier).toBeDefined();
    expect(JSON.parse((await runCli(['audit', 'verify', '--json'], env)).stdout)).toMatchObject({ ok: true });

    const followed = await runCli(['run', 'cli-sleep', '-p', 'seconds=0', '--follow', '--json'], env);
    expect(followed.code).toBe(0);
    const doc = JSON.parse(followed.stdout);
    expect(doc.run.state).toBe('succeeded');
    expect(doc.report.final).toBe(true);
    // Progress went to stderr, so stdout stayed one document.
    expect(followed.stderr).toMatch(/▶ nap \(core\.sleep\) started/);

    const reportFile = path.join(home, 'report.md');
    const rep = await runCli(['report', list.items[0].id, '--format', 'md', '-o', reportFile], env);
    expect(rep.code).toBe(0);
    expect(readFileSync(reportFile, 'utf8')).toContain('orders-aurora');
  });

  it('tells usage errors (64), a refused key (77) and an unreachable service (69) apart', async () => {
    expect((await runCli(['run', 'failover-test', '-p', 'clusterIdentifier'], env)).code).toBe(64);
    expect((await runCli(['run'], env)).code).toBe(64);
    const badParams = await runCli(['run', 'failover-test', '-p', 'clusterIdentifier=orders-aurora', '-p', 'maxSwitchSeconds=-1'], env);
    expect(badParams.code).toBe(64);
    expect(badParams.stderr).toMatch(/maxSwitchSeconds/);
    expect((await runCli(['run', 'failover-test', '--timeout', 'soon', '--follow'], env)).code).toBe(64);

    const wrongKey = await runCli(['runs'], { ...env, RUNBOOKD_API_KEY: 'rbd_not_a_key' });
    expect(wrongKey.code).toBe(77);
    expect(wrongKey.stderr).toMatch(/UNAUTHENTICATED/);
    // A viewer may look but not start runs.
    const viewer = await runCli(['run', 'cli-sleep', '-p', 'seconds=0'], { ...env, RUNBOOKD_API_KEY: h.keys.viewer });
    expect(viewer.code).toBe(77);
    expect(viewer.stderr).toMatch(/FORBIDDEN/);

    const closed = await freePort();
    const down = await runCli(['runs', '--json'], { ...env, RUNBOOKD_URL: `http://127.0.0.1:${closed}` });
    expect(down.code).toBe(69);
    expect(JSON.parse(down.stdout).error.code).toBe('UNREACHABLE');
    expect(down.stderr).toMatch(/ECONNREFUSED/);
  });

  it("types -p by the schema (the README's point-in-time restore), refuses what cannot convert with 64, and records the run as trigger cli", async () => {
    const pitr = await runCli(
      ['run', 'point-in-time-restore', '-p', 'dbInstanceIdentifier=billing-postgres', '-p', 'useLatestRestorableTime=true', '--dry-run', '--json'],
      env,
    );
    expect(pitr.stderr).toBe('');
    expect(pitr.code).toBe(0);
    const accepted = JSON.parse(pitr.stdout);
    expect(accepted.parameters).toMatchObject({ dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true });
    // Who started it is the key's owner; the CLI only says it was the CLI.
    expect(accepted.trigger).toMatchObject({ kind: 'cli', actor: 'otto' });
    expect(accepted.actor).toBe('otto');

    const before = (await h.request('GET', '/v1/runs?runbook=point-in-time-restore&limit=200')).body.items.length;
    for (const [pair, said] of [
      ['useLatestRestorableTime=yes', /useLatestRestorableTime=yes: useLatestRestorableTime must be true/],
      ['rpoTargetMinutes=an-hour', /rpoTargetMinutes must be a number/],
      ['vpcSecurityGroupIds=[sg-1', /vpcSecurityGroupIds must be a list/],
    ] as const) {
      const r = await runCli(['run', 'point-in-time-restore', '-p', 'dbInstanceIdentifier=billing-postgres', '-p', pair, '--dry-run'], env);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(said);
    }
    const bad = JSON.parse((await runCli(['run', 'cli-sleep', '-p', 'seconds=1.5', '--json'], env)).stdout);
    expect(bad.error).toMatchObject({ code: 'USAGE', details: { field: 'seconds' } });
    expect((await h.request('GET', '/v1/runs?runbook=point-in-time-restore&limit=200')).body.items.length).toBe(before);

    // Started over REST it stays `rest`; a client header runbookd never sends is refused, naming it.
    const rest = await h.request('POST', '/v1/runbooks/cli-sleep/runs', { key: h.keys.operator, body: { parameters: { seconds: 0 } } });
    expect(rest.body.trigger.kind).toBe('rest');
    const forged = await h.request('POST', '/v1/runbooks/cli-sleep/runs', {
      key: h.keys.operator,
      body: { parameters: { seconds: 0 } },
      headers: { 'x-runbookd-client': 'schedule' },
    });
    expect(forged.status).toBe(400);
    expect(forged.body.error.details.field).toBe('X-Runbookd-Client');
  });

  it("`runs --trigger cli` lists only the CLI's runs, and --cursor pages on", async () => {
    for (let i = 0; i < 2; i++) expect((await runCli(['run', 'cli-sleep', '-p', 'seconds=0'], env)).code).toBe(0);
    const all = JSON.parse((await runCli(['runs', '--trigger', 'cli', '--limit', '200', '--json'], env)).stdout).items;
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(all.every((r: any) => r.trigger.kind === 'cli')).toBe(true);
    const rest = JSON.parse((await runCli(['runs', '--trigger', 'rest', '--json'], env)).stdout).items;
    expect(rest.length).toBeGreaterThanOrEqual(1);
    expect(rest.every((r: any) => r.trigger.kind === 'rest')).toBe(true);

    const first = JSON.parse((await runCli(['runs', '--trigger', 'cli', '--limit', '1', '--json'], env)).stdout);
    expect(first.items.map((r: any) => r.id)).toEqual([all[0].id]);
    const second = JSON.parse((await runCli(['runs', '--trigger', 'cli', '--limit', '1', '--cursor', first.nextCursor, '--json'], env)).stdout);
    expect(second.items.map((r: any) => r.id)).toEqual([all[1].id]);
    // On a terminal the next page is one command away.
    const table = await runCli(['runs', '--trigger', 'cli', '--limit', '1'], env);
    expect(table.stdout).toContain(all[0].id);
    expect(table.stdout).toContain(`more: runbookd runs --trigger cli --limit 1 --cursor ${first.nextCursor}`);
    expect((await runCli(['runs', '--trigger', 'carrier-pigeon'], env)).code).toBe(64);
    expect((await runCli(['runs', '--cursor', 'not-a-cursor'], env)).code).toBe(64);
  });

  it('`follow` on a run that already ended stamps each step with when it ran', async () => {
    const started = JSON.parse((await runCli(['run', 'cli-sleep', '-p', 'seconds=1', '--json'], env)).stdout);
    const run = await h.waitForRun(started.id, ['succeeded']);
    // Far enough past the end that "now" cannot pass for the step's time.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(run.endedAt) + 2500 - Date.now())));
    const r = await runCli(['follow', run.id], env);
    expect(r.code).toBe(0);
    const hms = (iso: string) => `${iso.slice(11, 19)}Z`;
    const lines = r.stdout.split('\n');
    expect(lines).toContain(`${hms(run.endedAt)} run ${run.id} succeeded`);
    for (const s of run.steps) {
      const label = `${s.phase === 'cleanup' ? 'cleanup ' : ''}${s.id} (${s.uses})`;
      expect(lines).toContain(`${hms(s.startedAt)} ▶ ${label} started`);
      expect(lines.find((l) => l.includes(`✓ ${label} succeeded`))).toMatch(new RegExp(`^${hms(s.endedAt)} `));
    }
  });

  it('`login` checks the key, saves it owner-only under XDG_CONFIG_HOME, and later commands use it', async () => {
    const xdg = path.join(home, 'xdg');
    const bare = { HOME: home, XDG_CONFIG_HOME: xdg };
    expect((await runCli(['runs'], bare)).code).toBe(64);
    const refused = await runCli(['login', '--url', h.baseUrl], bare, 'rbd_wrong\n');
    expect(refused.code).toBe(77);
    expect(() => statSync(path.join(xdg, 'runbookd', 'config.json'))).toThrow();

    const ok = await runCli(['login', '--url', h.baseUrl], bare, `${h.keys.viewer}\n`);
    expect(ok.code).toBe(0);
    const file = path.join(xdg, 'runbookd', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: h.baseUrl, apiKey: h.keys.viewer });
    // The key never goes to the terminal.
    expect(ok.stdout + ok.stderr).not.toContain(h.keys.viewer);

    const runs = await runCli(['runs', '--json'], bare);
    expect(runs.code).toBe(0);
    // The environment wins over the profile (a CI job overriding a saved login).
    expect((await runCli(['run', 'cli-sleep', '-p', 'seconds=0'], bare)).code).toBe(77);
    expect((await runCli(['run', 'cli-sleep', '-p', 'seconds=0'], { ...bare, RUNBOOKD_API_KEY: h.keys.operator })).code).toBe(0);
  });
});

describe('runbookd validate (offline: no service, no database)', () => {
  it('passes the shipped runbooks and names file and path of each problem in a broken folder', async () => {
    const good = await runCli(['validate', path.join(ROOT, 'runbooks')], { HOME: os.tmpdir() });
    expect(good.code).toBe(0);
    const shipped = readdirSync(path.join(ROOT, 'runbooks')).filter((f) => f.endsWith('.yaml')).length;
    expect(good.stdout).toMatch(new RegExp(`${shipped} runbook\\(s\\) valid`));

    const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-validate-'));
    try {
      copyFileSync(path.join(ROOT, 'runbooks/failover-test.yaml'), path.join(dir, 'failover-test.yaml'));
      copyFileSync(path.join(ROOT, 'test/e2e/fixtures/broken-expression/bad-expression.yaml'), path.join(dir, 'bad-expression.yaml'));
      copyFileSync(path.join(ROOT, 'test/e2e/fixtures/broken-step/unknown-step.yaml'), path.join(dir, 'unknown-step.yaml'));
      const bad = await runCli(['validate', dir], { HOME: os.tmpdir() });
      expect(bad.code).toBe(1);
      const lines = bad.stdout.trim().split('\n');
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/bad-expression\.yaml:steps\[1\]\.with\.echo: .*no earlier step "nope"/),
          expect.stringMatching(/unknown-step\.yaml:steps\[\d\]\.uses: unknown step type/),
        ]),
      );
      expect(lines.some((l) => l.includes('failover-test.yaml'))).toBe(false);
      const json = JSON.parse((await runCli(['validate', dir, '--json'], { HOME: os.tmpdir() })).stdout);
      expect(json.problems.length).toBe(lines.length);
      expect((await runCli(['validate', path.join(dir, 'nope')], { HOME: os.tmpdir() })).code).toBe(64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks a policy file with --policy, naming the file, the field and why', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-validate-policy-'));
    try {
      const good = path.join(dir, 'good.yaml');
      writeFileSync(good, 'groups: { dba: { keys: [dana] } }\ngrants: [{ group: dba, may: [view, run], runbooks: ["failover-*"], environments: [staging] }]\n');
      const ok = await runCli(['validate', '--policy', good], { HOME: os.tmpdir() });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`${good}: policy valid: 4 group(s), 1 grant(s)`);
      const bad = path.join(dir, 'bad.yaml');
      writeFileSync(bad, 'grants: [{ group: nobody, may: [view, fly] }]\n');
      const refused = await runCli(['validate', '--policy', bad], { HOME: os.tmpdir() });
      expect(refused.code).toBe(1);
      expect(refused.stdout.trim().split('\n')).toEqual([
        `${bad}: grants[0].group: unknown group "nobody" (groups: viewer, operator, admin)`,
        `${bad}: grants[0].may[1]: "fly" is not an action (view, run, approve, cancel, admin)`,
      ]);
      expect((await runCli(['validate'], { HOME: os.tmpdir() })).code).toBe(64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
