import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, type CliResult } from '../support/cli';
import { eventually, Harness, ROOT } from '../support/runbookd';

/**
 * README's CLI commands, taken from README itself and run as written (the built binary, what
 * `npx runbookd` starts) against the service under the default policy a newcomer has: a README
 * that drifts from the CLI fails here (issue 22, "exactly as the README shows").
 */
function readmeCommands(): string[][] {
  const text = readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\\\n\s*/g, ' ');
  const out: string[][] = [];
  for (const line of text.split('\n')) {
    if (!/^(echo .*\| )?npx runbookd /.test(line)) continue;
    for (const part of line.replace(/\s+#.*$/, '').split(/;\s+/)) {
      const words = [...part.replace(/^echo .*\| /, '').matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
      out.push(words.slice(2));
    }
  }
  return out;
}

describe("README's CLI commands, as written", () => {
  let h: Harness;
  let cwd: string;
  let env: Record<string, string>;
  let admin: Record<string, string>;

  beforeAll(async () => {
    h = await Harness.start({ role: 'all', policy: 'default' });
    cwd = mkdtempSync(path.join(os.tmpdir(), 'rbd-readme-cli-'));
    symlinkSync(path.join(ROOT, 'runbooks'), path.join(cwd, 'runbooks'));
    env = { HOME: cwd, RUNBOOKD_URL: h.baseUrl, RUNBOOKD_API_KEY: h.keys.operator };
    admin = { ...env, RUNBOOKD_API_KEY: h.keys.admin };
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  const cli = (args: string[], e = env): { done: Promise<CliResult> } => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...e }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    return { done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
  };
  const pendingApproval = (runbook: string) =>
    eventually(
      async () => ((await h.request('GET', '/v1/approvals?state=pending', { key: h.keys.admin })).body.items as any[]).find((a) => a.runbookId === runbook),
      60_000,
      `an approval for ${runbook}`,
    );

  it('runs every command README shows, in its order, each ending the way README says', async () => {
    const commands = readmeCommands();
    const verbs = commands.map((c) => c[0]);
    expect(verbs).toEqual(
      expect.arrayContaining([
        'login',
        'runbooks',
        'run',
        'runs',
        'show',
        'cancel',
        'follow',
        'report',
        'approvals',
        'approve',
        'reject',
        'schedules',
        'pause',
        'resume',
        'audit',
        'validate',
      ]),
    );
    let last: string | undefined;
    const results: Array<{ cmd: string; code: number | null; err: string }> = [];
    for (const cmd of commands) {
      // The README's login names an example URL; the service here is the harness's.
      if (cmd[0] === 'login') continue;
      let args = cmd;
      let e = env;
      if (cmd[0] === 'run') {
        // Under the default policy the sandbox estate is production: a second person approves,
        // from another terminal, while the first follows.
        const running = cli(args);
        const approval = await pendingApproval(cmd[1]);
        const approved = await cli(['approve', approval.runId, '-m', 'plan checked'], admin).done;
        expect({ cmd: 'approve', code: approved.code, err: approved.stderr }).toMatchObject({ code: 0 });
        const r = await running.done;
        last = approval.runId;
        results.push({ cmd: cmd.join(' '), code: r.code, err: r.stderr });
        continue;
      }
      if (cmd[0] === 'approve' || cmd[0] === 'reject') {
        const started = await h.request('POST', '/v1/runbooks/failover-test/runs', {
          key: h.keys.operator,
          body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'readme approve' },
        });
        await pendingApproval('failover-test');
        expect(started.status).toBe(202);
        args = cmd.map((w) => (w === '<run>' ? started.body.id : w));
        e = admin;
        const r = await cli(args, e).done;
        results.push({ cmd: args.join(' '), code: r.code, err: r.stderr.slice(0, 300) });
        // An approved failover holds the cluster's concurrency key until it ends: the next
        // command's run on the same cluster would be refused 409 while it runs.
        await h.waitForRun(started.body.id, ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'], 90_000);
        continue;
      } else if (cmd[0] === 'cancel') {
        const started = await h.request('POST', '/v1/runbooks/failover-test/runs', {
          key: h.keys.operator,
          body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'readme cancel' },
        });
        args = cmd.map((w) => (w === '<run>' ? started.body.id : w));
      } else args = cmd.map((w) => (w === '<run>' ? last! : w));
      const r = await cli(args, e).done;
      results.push({ cmd: args.join(' '), code: r.code, err: r.stderr.slice(0, 300) });
    }
    expect(results.filter((r) => r.code !== 0)).toEqual([]);
    expect(statSync(path.join(cwd, 'drill.html')).size).toBeGreaterThan(1000);
  }, 600_000);
});
