/**
 * Runs the demo against the sandbox: seeds moto, starts runbookd (embedded PGlite, local Redis),
 * triggers the failover test on the sandbox Aurora cluster over HTTP as an operator would, waits
 * for it and prints the report. Then a bad canary is deployed to the sandbox ECS service, its 5xx
 * alarm fires, and a signed SNS alarm notification (a test key pair and certificate made now,
 * served through RUNBOOKD_SNS_CERTS_DIR) rolls it back; that report is printed too.
 * The failover test's cluster is tagged environment=production, so it waits for a second person: a
 * second key approves it with the `runbookd` CLI before anything changes.
 * `--keep` leaves the service running afterwards.
 *
 * What it prints is the story, act by act; the service's own log (Nest's start, every route it
 * maps, each step) goes to a file it names, so the story is not buried, and the log's tail is
 * printed if anything fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DeregisterTaskDefinitionCommand, DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { checkoutTaskDefinition, SANDBOX_CANARY } from './sandbox/seed-canary';
import { seedSandbox, SANDBOX_ESTATE } from './sandbox/seed-estate';
import { cloudWatchAlarmMessage, createTestSnsSigner } from './sandbox/sns-signer';

const ROOT = path.resolve(__dirname, '..');
const endpoint = process.env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${process.env.MOTO_PORT ?? 5000}`;
const region = process.env.AWS_REGION ?? 'eu-west-1';
const port = Number(process.env.PORT ?? 3000);
const keep = process.argv.includes('--keep');

async function main(): Promise<void> {
  const credentials = { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' };
  const seeded = await seedSandbox({ endpoint, region, credentials });
  console.log(`sandbox ${endpoint} (${region}): ${seeded.created.length} created, ${seeded.existing.length} already there`);

  // moto's default account; the topic the sandbox alarm posts to.
  const topicArn = `arn:aws:sns:${region}:123456789012:${SANDBOX_CANARY.topic}`;
  const snsDir = path.join(ROOT, '.runbookd', 'demo', 'sns');
  mkdirSync(snsDir, { recursive: true });
  const signer = createTestSnsSigner(snsDir, region);

  // A fresh operator key for this demo; runbookd stores only its hash.
  const key = `rbd_demo_${randomBytes(16).toString('hex')}`;
  const hash = createHash('sha256').update(key).digest('hex');
  // A second person: production changes need someone other than the requester to approve.
  const approverKey = `rbd_demo_${randomBytes(16).toString('hex')}`;
  const approverHash = createHash('sha256').update(approverKey).digest('hex');
  const logPath = path.join(ROOT, '.runbookd', 'demo', 'runbookd.log');
  const logFd = openSync(logPath, 'w');
  console.log(`runbookd demo: the AWS sandbox (moto) at ${endpoint}, Redis at 127.0.0.1:6379, and runbookd on`);
  console.log(`http://127.0.0.1:${port} (role all, embedded PGlite in .runbookd/demo). The service's own log: ${path.relative(process.cwd(), logPath)}`);
  const startedAt = Date.now();
  const service = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js')], {
    cwd: ROOT,
    stdio: ['ignore', logFd, logFd],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      RUNBOOKD_ROLE: 'all',
      RUNBOOKD_API_KEYS: `demo-operator:operator:${hash},demo-approver:operator:${approverHash}`,
      RUNBOOKD_STATE_DIR: path.join(ROOT, '.runbookd', 'demo'),
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // moto answers no percentile statistic: the capacity report computes its figures here.
      RUNBOOKD_CAPACITY_STATISTICS: 'local',
      RUNBOOKD_SNS_TOPICS: topicArn,
      RUNBOOKD_SNS_CERTS_DIR: signer.certsDir,
    },
  });
  closeSync(logFd);
  const stop = () => {
    if (service.exitCode === null) service.kill('SIGTERM');
  };
  let stopping = false;
  service.on('exit', (code, signal) => {
    if (!stopping) console.error(`runbookd exited on its own (${signal ?? `code ${code}`}); see ${logPath}`);
  });
  process.on('SIGINT', () => {
    stopping = true;
    stop();
    process.exit(130);
  });
  const base = `http://127.0.0.1:${port}`;
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(base + url, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${url} → ${res.status}: ${text}`);
    return { status: res.status, text, json: () => JSON.parse(text) };
  };

  try {
    await until(async () => (await fetch(`${base}/health/ready`)).ok, 120_000, 'runbookd to become ready');
    console.log(`runbookd is ready after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    act(1, 'a failover test of the sandbox Aurora cluster, started over HTTP; the cluster is tagged environment=production, so a second person approves it');
    // No `environment` parameter: the approval comes from the cluster's own tag, whatever the request says.
    const parameters = { clusterIdentifier: SANDBOX_ESTATE.cluster, failback: true, maxSwitchSeconds: 60 };
    console.log(`\n→ POST /v1/runbooks/failover-test/runs ${JSON.stringify({ parameters })}`);
    const accepted = (await api('POST', '/v1/runbooks/failover-test/runs', { parameters, reason: 'runbookd demo' })).json();
    console.log(`← ${accepted.state}: run ${accepted.id}`);
    // Production: the run waits before its first change for someone other than demo-operator.
    const approval = await until(
      async () => {
        const a = await api('GET', `/v1/runs/${accepted.id}/approval`).then(
          (r) => r.json(),
          () => undefined,
        );
        return a?.state === 'pending' ? a : undefined;
      },
      60_000,
      'the approval request',
    );
    console.log(`← run ${accepted.id} waits for approval (requested by ${approval.requestedBy}, plan ${approval.planHash.slice(0, 12)}):`);
    for (const step of approval.plan.steps)
      console.log(
        `     ${step.stepId}: ${step.calls ? step.calls.map((c: any) => `${c.service}:${c.operation} ${JSON.stringify(c.input)}`).join('; ') : step.note}`,
      );
    const cli = ['approve', accepted.id, '-m', 'demo: target and guard alarms checked'];
    console.log(`→ (as demo-approver) runbookd ${cli.join(' ')}`);
    const approved = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'cli-main.js'), ...cli], {
      env: { ...process.env, RUNBOOKD_URL: base, RUNBOOKD_API_KEY: approverKey },
      encoding: 'utf8',
    });
    process.stdout.write(`← ${approved.stdout}${approved.stderr}`);
    if (approved.status !== 0) throw new Error(`runbookd approve exited ${approved.status}`);
    const run = await until(
      async () => {
        const r = (await api('GET', `/v1/runs/${accepted.id}`)).json();
        return ['succeeded', 'failed', 'aborted', 'cancelled'].includes(r.state) ? r : undefined;
      },
      120_000,
      'the run to end',
    );
    console.log(`← run ${run.id} ended ${run.state}\n`);
    console.log((await api('GET', `/v1/runs/${run.id}/report?format=md`)).text);
    act(2, 'a bad canary on the sandbox ECS service; its alarm, delivered by SNS, rolls it back');
    const rollback = await canaryRollback({ base, api, signer, topicArn, credentials });
    act(3, 'the audit log: every AWS call above, chained and checked');
    const verify = (await api('GET', '/v1/audit/verify')).json();
    console.log(`audit chain: ${verify.ok ? 'intact' : 'BROKEN'} (${verify.records} records)`);
    console.log(`HTML report: ${base}/v1/runs/${run.id}/report?format=html  ·  API docs: ${base}/docs`);
    if (keep) {
      console.log(`
runbookd keeps running on ${base} (Ctrl-C to stop). API keys for this session: ${key} (demo-operator), ${approverKey} (demo-approver)`);
      // The report links above open in the same browser once signed in (the session cookie).
      console.log(`Web console: ${base}/  (sign in with either key above; then ${base}/#/runs/${run.id} shows the failover test)`);
      await new Promise(() => undefined);
    }
    process.exitCode = run.state === 'succeeded' && rollback ? 0 : 1;
    if (process.exitCode) printLogTail(logPath);
  } catch (err) {
    printLogTail(logPath);
    throw err;
  } finally {
    stopping = true;
    if (!keep) stop();
  }
}

function act(n: number, what: string): void {
  console.log(`\n── ${n}. ${what}`);
}

/** On failure the story alone cannot say why: the service's last lines can. */
function printLogTail(logPath: string, lines = 40): void {
  try {
    const tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines);
    console.error(`\nthe last ${tail.length} lines of ${logPath}:\n${tail.join('\n')}`);
  } catch {
    /* no log yet */
  }
}

type Api = (method: string, url: string, body?: unknown) => Promise<{ status: number; text: string; json: () => any }>;

/**
 * The second act: deploy a bad canary to the sandbox ECS service, let its alarm fire, and send the
 * alarm's SNS notification, signed, to the webhook. canary-rollback puts the previous revision
 * back; once the alarm is OK again the run ends and its report is printed.
 */
async function canaryRollback(o: {
  base: string;
  api: Api;
  signer: ReturnType<typeof createTestSnsSigner>;
  topicArn: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}): Promise<boolean> {
  const clientConfig = { endpoint, region, credentials: o.credentials };
  const ecs = new ECSClient(clientConfig);
  const cloudwatch = new CloudWatchClient(clientConfig);
  const c = SANDBOX_CANARY;
  try {
    const stable = (await ecs.send(new DescribeServicesCommand({ cluster: c.cluster, services: [c.service] }))).services![0].taskDefinition!;
    const canary = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-api:1.42.0-canary')))).taskDefinition!
      .taskDefinitionArn!;
    await ecs.send(new UpdateServiceCommand({ cluster: c.cluster, service: c.service, taskDefinition: canary }));
    console.log(`\n→ deployed canary ${canary.split('/').pop()} to ${c.cluster}/${c.service} (was ${stable.split('/').pop()})`);
    await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: c.alarm, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 5xx from the canary' }));
    const message = o.signer.notification(
      o.topicArn,
      cloudWatchAlarmMessage({ alarmName: c.alarm, cluster: c.cluster, service: c.service, region, accountId: '123456789012' }),
    );
    console.log(`→ alarm ${c.alarm} is ALARM; POST /v1/webhooks/sns (SNS Notification ${message.MessageId}, SignatureVersion 2)`);
    const res = await fetch(`${o.base}/v1/webhooks/sns`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: JSON.stringify(message),
    });
    const answer = (await res.json()) as any;
    console.log(`← ${res.status} ${answer.outcome}: ${(answer.runs ?? []).map((r: any) => `${r.runbookId} run ${r.runId} (${r.outcome})`).join(', ')}`);
    const runId = answer.runs?.[0]?.runId;
    if (!runId) return false;
    await until(
      async () => (await ecs.send(new DescribeServicesCommand({ cluster: c.cluster, services: [c.service] }))).services![0].taskDefinition === stable,
      60_000,
      'the rollback',
    );
    console.log(`← ${c.service} is back on ${stable.split('/').pop()}; the canary's errors stop`);
    await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: c.alarm, StateValue: 'OK', StateReason: 'Rolled back' }));
    const run = await until(
      async () => {
        const r = (await o.api('GET', `/v1/runs/${runId}`)).json();
        return ['succeeded', 'failed', 'aborted', 'cancelled'].includes(r.state) ? r : undefined;
      },
      120_000,
      'the alarm to return to OK',
    );
    console.log(`← run ${runId} ended ${run.state}\n`);
    console.log((await o.api('GET', `/v1/runs/${runId}/report?format=md`)).text);
    // The bad build is withdrawn, as a team would: the next canary rolls back to the good one again.
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: canary }));
    return run.state === 'succeeded';
  } finally {
    ecs.destroy();
    cloudwatch.destroy();
  }
}

async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
