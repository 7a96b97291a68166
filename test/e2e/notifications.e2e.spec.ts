import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { Client } from 'pg';
import { freePort } from '../support/moto';
import { eventually, exited, Harness, REGION } from '../support/runbookd';

/** A local HTTP receiver: records JSON bodies; answers `failFirst` requests with 503 first. */
class Receiver {
  readonly bodies: any[] = [];
  readonly statuses: number[] = [];
  private server!: Server;
  url!: string;
  constructor(private failFirst = 0) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void readBody(req).then((text) => {
        const status = this.statuses.length < this.failFirst ? 503 : 200;
        this.statuses.push(status);
        if (status === 200) this.bodies.push(text ? JSON.parse(text) : null);
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server.close(r));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text));
  });
}

const runbook = (id: string, notify: string, step = 'core.noop') => `id: ${id}
title: ${id} (test fixture)
notify: ${notify}
steps:
  - { id: work, uses: ${step} }
`;

describe('run notifications: webhook and SNS, retried, never changing the run', () => {
  let h: Harness;
  let dir: string;
  let ok: Receiver;
  let flaky: Receiver;
  let snsSubscriber: Receiver;
  let topicArn: string;
  let deadUrl: string;

  beforeAll(async () => {
    [ok, flaky, snsSubscriber] = await Promise.all([new Receiver().start(), new Receiver(2).start(), new Receiver().start()]);
    deadUrl = `http://127.0.0.1:${await freePort()}/hook`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'runbookd-notify-'));
    // The topic ARN is moto's for the default account; the topic itself is made once moto runs.
    topicArn = `arn:aws:sns:${REGION}:123456789012:runbookd-notifications`;
    await writeFile(
      path.join(dir, 'notify-ok.yaml'),
      runbook('notify-ok', `{ on: [succeeded, failed], webhook: "${ok.url}/hooks/T000/B000/secretpart", sns: "${topicArn}" }`),
    );
    await writeFile(path.join(dir, 'notify-flaky.yaml'), runbook('notify-flaky', `{ on: [succeeded], webhook: "${flaky.url}/hook" }`));
    await writeFile(path.join(dir, 'notify-down.yaml'), runbook('notify-down', `{ on: [succeeded], webhook: "${deadUrl}" }`));
    await writeFile(path.join(dir, 'notify-quiet.yaml'), runbook('notify-quiet', `{ webhook: "${ok.url}/quiet" }`));
    h = await Harness.start({
      role: 'all',
      seed: false,
      runbooksDir: dir,
      env: {
        RUNBOOKD_NOTIFY_INTERVAL_MS: '200',
        RUNBOOKD_NOTIFY_BACKOFF_MS: '200',
        RUNBOOKD_NOTIFY_MAX_ATTEMPTS: '3',
        RUNBOOKD_PUBLIC_URL: 'https://runbookd.example.com/',
      },
    });
    const sns = new SNSClient({ region: REGION, endpoint: h.moto.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    expect((await sns.send(new CreateTopicCommand({ Name: 'runbookd-notifications' }))).TopicArn).toBe(topicArn);
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: `${snsSubscriber.url}/sns` }));
    sns.destroy();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await Promise.all([ok, flaky, snsSubscriber].map((r) => r?.stop()));
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const run = async (id: string) => {
    const res = await h.request('POST', `/v1/runbooks/${id}/runs`, { key: h.keys.operator, body: { parameters: {} } });
    expect(res.status).toBe(202);
    return h.waitForRun(res.body.id);
  };
  const audit = async (runId: string) => (await h.request('GET', `/v1/audit?runId=${runId}`)).body.items as any[];

  it('posts a Slack-compatible message and publishes to SNS after the run ends, with outcome and report link', async () => {
    const r = await run('notify-ok');
    expect(r.state).toBe('succeeded');
    const body = await eventually(() => ok.bodies.find((b) => b.runbookd?.runId === r.id), 10_000, 'the webhook POST');
    expect(body.text).toContain(`notify-ok succeeded — run ${r.id}`);
    expect(body.text).toContain(`<https://runbookd.example.com/v1/runs/${r.id}/report?format=html|Report>`);
    expect(body.attachments[0].color).toBe('#1a7f37');
    expect(body.runbookd).toMatchObject({
      runbookId: 'notify-ok',
      state: 'succeeded',
      reportUrl: `https://runbookd.example.com/v1/runs/${r.id}/report?format=html`,
    });

    // moto delivers the published message to the topic's HTTP subscriber.
    const delivered = await eventually(() => snsSubscriber.bodies.find((b) => b?.Type === 'Notification'), 10_000, 'the SNS notification');
    expect(delivered.TopicArn).toBe(topicArn);
    expect(delivered.Message).toContain(`notify-ok succeeded — run ${r.id}`);
    expect(delivered.Message).toContain(`Report: https://runbookd.example.com/v1/runs/${r.id}/report?format=html`);
    expect(h.proxy.count('Publish')).toBe(1);

    const records = await eventually(
      async () => {
        const a = await audit(r.id);
        return a.filter((e) => e.kind === 'notification.sent').length === 2 ? a : undefined;
      },
      10_000,
      'two notification.sent records',
    );
    const sent = records
      .filter((e) => e.kind === 'notification.sent')
      .map((e) => [e.data.channel, e.data.target])
      .sort();
    // The webhook's path is its credential (Slack puts the token there): only the origin is recorded.
    expect(sent).toEqual([
      ['sns', topicArn],
      ['webhook', `${ok.url}/…`],
    ]);
    expect(JSON.stringify(records)).not.toContain('secretpart');
    expect(records.filter((e) => e.kind === 'aws.request' && e.data.operation === 'Publish')).toHaveLength(1);
  }, 30_000);

  it('does not notify outcomes the runbook did not ask for (default: failed and aborted)', async () => {
    const before = ok.statuses.length;
    const r = await run('notify-quiet');
    expect(r.state).toBe('succeeded');
    await new Promise((res) => setTimeout(res, 1000));
    expect(ok.statuses.length).toBe(before);
    expect((await audit(r.id)).filter((e) => e.kind.startsWith('notification.'))).toEqual([]);
  }, 30_000);

  it('retries a receiver that answers 503 with backoff until it takes the message; each failure is audited', async () => {
    const r = await run('notify-flaky');
    await eventually(() => (flaky.bodies.length === 1 ? true : undefined), 15_000, 'the third attempt to land');
    expect(flaky.statuses).toEqual([503, 503, 200]);
    const records = await eventually(
      async () => {
        const a = await audit(r.id);
        return a.some((e) => e.kind === 'notification.sent') ? a : undefined;
      },
      10_000,
      'notification.sent',
    );
    expect(records.filter((e) => e.kind === 'notification.failed').map((e) => [e.data.attempt, e.data.willRetry, e.data.error])).toEqual([
      [1, true, 'receiver answered 503'],
      [2, true, 'receiver answered 503'],
    ]);
    expect(records.find((e) => e.kind === 'notification.sent').data.attempt).toBe(3);
    expect((await h.request('GET', `/v1/runs/${r.id}`)).body.state).toBe('succeeded');
  }, 30_000);

  it('gives up on a receiver that is down after the last attempt; the run stays succeeded, the audit says why', async () => {
    const r = await run('notify-down');
    expect(r.state).toBe('succeeded');
    const records = await eventually(
      async () => {
        const a = await audit(r.id);
        return a.filter((e) => e.kind === 'notification.failed').length === 3 ? a : undefined;
      },
      15_000,
      'three failed attempts',
    );
    const failed = records.filter((e) => e.kind === 'notification.failed');
    expect(failed.map((e) => [e.data.attempt, e.data.willRetry])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    expect(failed[0].data.error).toMatch(/POST failed: ECONNREFUSED/);
    const view = (await h.request('GET', `/v1/runs/${r.id}`)).body;
    expect(view.state).toBe('succeeded');
    expect(view.error).toBeNull();
  }, 30_000);
});

describe('a run that ended is notified even when its worker dies before delivering', () => {
  let h: Harness;
  let dir: string;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'runbookd-notify-crash-'));
    await writeFile(path.join(dir, 'notify-crash.yaml'), runbook('notify-crash', `{ on: [succeeded], webhook: "${receiver.url}/hook" }`));
    h = await Harness.start({ role: 'api', seed: false, runbooksDir: dir, env: { RUNBOOKD_NOTIFY_INTERVAL_MS: '200' } });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await receiver?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('the next worker delivers it from the outbox', async () => {
    // This worker runs the run but would only look for notifications after 10 minutes.
    const first = await h.startWorker({ RUNBOOKD_NOTIFY_INTERVAL_MS: '600000' });
    const res = await h.request('POST', '/v1/runbooks/notify-crash/runs', { key: h.keys.operator, body: { parameters: {} } });
    const r = await h.waitForRun(res.body.id);
    expect(r.state).toBe('succeeded');
    h.kill(first);
    await exited(first);
    expect(receiver.bodies).toEqual([]);
    const c = new Client({ connectionString: h.db.url });
    await c.connect();
    const rows = (await c.query('SELECT channel, state FROM notifications WHERE run_id = $1', [r.id])).rows;
    await c.end();
    expect(rows).toEqual([{ channel: 'webhook', state: 'pending' }]);

    await h.startWorker();
    const body = await eventually(() => receiver.bodies[0], 15_000, 'the notification from the second worker');
    expect(body.runbookd).toMatchObject({ runId: r.id, state: 'succeeded' });
  }, 60_000);
});
