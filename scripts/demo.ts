/**
 * Runs the demo against the sandbox: seeds moto, starts runbookd (embedded PGlite, local Redis),
 * triggers the failover test on the sandbox Aurora cluster over HTTP as an operator would, waits
 * for it and prints the report. `--keep` leaves the service running afterwards.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { seedSandbox, SANDBOX_ESTATE } from './sandbox/seed-estate';

const ROOT = path.resolve(__dirname, '..');
const endpoint = process.env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${process.env.MOTO_PORT ?? 5000}`;
const region = process.env.AWS_REGION ?? 'eu-west-1';
const port = Number(process.env.PORT ?? 3000);
const keep = process.argv.includes('--keep');

async function main(): Promise<void> {
  const credentials = { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' };
  const seeded = await seedSandbox({ endpoint, region, credentials });
  console.log(`sandbox ${endpoint} (${region}): ${seeded.created.length} created, ${seeded.existing.length} already there`);

  // A fresh operator key for this demo; runbookd stores only its hash.
  const key = `rbd_demo_${randomBytes(16).toString('hex')}`;
  const hash = createHash('sha256').update(key).digest('hex');
  const service = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      RUNBOOKD_ROLE: 'all',
      RUNBOOKD_API_KEYS: `demo-operator:operator:${hash}`,
      RUNBOOKD_STATE_DIR: path.join(ROOT, '.runbookd', 'demo'),
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  const stop = () => {
    if (service.exitCode === null) service.kill('SIGTERM');
  };
  process.on('SIGINT', () => {
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
    const parameters = { clusterIdentifier: SANDBOX_ESTATE.cluster, failback: true, maxSwitchSeconds: 60 };
    console.log(`\n→ POST /v1/runbooks/failover-test/runs ${JSON.stringify({ parameters })}`);
    const accepted = (await api('POST', '/v1/runbooks/failover-test/runs', { parameters, reason: 'runbookd demo' })).json();
    console.log(`← ${accepted.state}: run ${accepted.id}`);
    const run = await until(async () => {
      const r = (await api('GET', `/v1/runs/${accepted.id}`)).json();
      return ['succeeded', 'failed', 'aborted', 'cancelled'].includes(r.state) ? r : undefined;
    }, 120_000, 'the run to end');
    console.log(`← run ${run.id} ended ${run.state}\n`);
    console.log((await api('GET', `/v1/runs/${run.id}/report?format=md`)).text);
    const verify = (await api('GET', '/v1/audit/verify')).json();
    console.log(`audit chain: ${verify.ok ? 'intact' : 'BROKEN'} (${verify.records} records)`);
    console.log(`HTML report: ${base}/v1/runs/${run.id}/report?format=html  ·  API docs: ${base}/docs`);
    if (keep) {
      console.log(`\nrunbookd keeps running on ${base} (Ctrl-C to stop). API key for this session: ${key}`);
      await new Promise(() => undefined);
    }
    process.exitCode = run.state === 'succeeded' ? 0 : 1;
  } finally {
    if (!keep) stop();
  }
}

async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as T;
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
