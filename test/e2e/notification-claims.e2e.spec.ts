import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ApprovalsRepository } from '../../src/persistence/approvals.repository';
import { AuditService } from '../../src/audit/audit.service';
import { SnsAdapter } from '../../src/aws/sns.adapter';
import { AppConfig } from '../../src/config/app.config';
import { NotificationDispatcherService } from '../../src/notifications/notification-dispatcher.service';
import { WebhookAdapter } from '../../src/notifications/webhook.adapter';
import { Database } from '../../src/persistence/database';
import { NotificationsRepository } from '../../src/persistence/notifications.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import { eventually, Harness } from '../support/runbookd';

/**
 * A slow receiver and two dispatchers on one outbox: every row is delivered exactly once. A
 * claim covers one send and lasts longer than the send may take, so no row is sent by a second
 * dispatcher while the first is still sending it; a dead holder's row goes out after its lease.
 */
class SlowReceiver {
  /** runId → deliveries received. */
  readonly deliveries = new Map<string, number>();
  private server!: Server;
  private held: Array<() => void> = [];
  url!: string;
  /** While set, requests wait (until released) instead of answering after `delayMs`. */
  hold = false;
  constructor(private readonly delayMs: number) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        const runId = JSON.parse(text).runbookd?.runId as string;
        const answer = () => {
          this.deliveries.set(runId, (this.deliveries.get(runId) ?? 0) + 1);
          res.writeHead(200).end();
        };
        if (this.hold) this.held.push(() => res.destroy());
        else setTimeout(answer, this.delayMs);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  releaseHeld(): void {
    for (const f of this.held.splice(0)) f();
  }

  async stop(): Promise<void> {
    this.releaseHeld();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('notification outbox: one claim per send, two dispatchers, a slow receiver', () => {
  let h: Harness;
  let dir: string;
  let receiver: SlowReceiver;
  let a: NotificationDispatcherService;
  let b: NotificationDispatcherService;
  let db: Database;
  const RUNS = 8;

  beforeAll(async () => {
    // Each POST takes 1.2 s, well under the 3 s send timeout (with 2 s, a loaded machine once made a
    // 1.2 s answer miss it: one more attempt than the test counts); eight of them take far longer than one lease.
    receiver = await new SlowReceiver(1200).start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'runbookd-claims-'));
    await writeFile(
      path.join(dir, 'notify-slow.yaml'),
      `id: notify-slow
title: notify-slow (test fixture)
notify: { on: [succeeded], webhook: "${receiver.url}/hook" }
steps:
  - { id: work, uses: core.noop }
`,
    );
    h = await Harness.start({
      role: 'all',
      seed: false,
      runbooksDir: dir,
      // The dispatchers' own timers stay out of the way: the test drives both rounds.
      env: { RUNBOOKD_NOTIFY_INTERVAL_MS: '600000', RUNBOOKD_NOTIFY_TIMEOUT_MS: '3000', RUNBOOKD_NOTIFY_BACKOFF_MS: '100' },
    });
    a = h.app.get(NotificationDispatcherService);
    b = new NotificationDispatcherService(
      h.app.get(NotificationsRepository),
      h.app.get(RunsRepository),
      h.app.get(SnsAdapter),
      h.app.get(WebhookAdapter),
      h.app.get(AuditService),
      h.app.get(AppConfig),
      h.app.get(ApprovalsRepository),
      h.app.get(SchedulerRegistry),
    );
    db = h.app.get(Database);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await receiver?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const finishedRun = async (): Promise<string> => {
    const res = await h.request('POST', '/v1/runbooks/notify-slow/runs', { key: h.keys.operator, body: { parameters: {} } });
    expect(res.status).toBe(202);
    expect((await h.waitForRun(res.body.id)).state).toBe('succeeded');
    return res.body.id;
  };

  it('delivers each row exactly once while two dispatchers drain the outbox together', async () => {
    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) runIds.push(await finishedRun());
    // Both dispatchers go round until the outbox is empty, at the same time.
    const drain = async (d: NotificationDispatcherService) => {
      for (let round = 0; round < 30; round++) {
        const pending = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM notifications WHERE state = 'pending'");
        if (pending[0].n === 0) return;
        if ((await d.dispatchDue()) === 0) await new Promise((r) => setTimeout(r, 150));
      }
    };
    await Promise.all([drain(a), drain(b)]);
    expect(runIds.map((id) => receiver.deliveries.get(id) ?? 0)).toEqual(runIds.map(() => 1));
    const rows = await db.query<{ state: string; attempts: number }>('SELECT state, attempts FROM notifications ORDER BY id');
    expect(rows).toEqual(runIds.map(() => ({ state: 'sent', attempts: 1 })));
    const sent = (await h.request('GET', '/v1/audit?limit=500')).body.items.filter((e: any) => e.kind === 'notification.sent');
    expect(sent).toHaveLength(RUNS);
  }, 90_000);

  it("a row whose holder is still sending is not taken; a dead holder's row goes out after its lease", async () => {
    receiver.hold = true;
    const runId = await finishedRun();
    // A sends; the receiver holds the request until A's own timeout ends it.
    const sending = a.dispatchDue();
    await eventually(
      async () =>
        (await db.query<{ attempts: number }>('SELECT attempts FROM notifications WHERE run_id = $1', [runId]))[0]?.attempts === 1 ? true : undefined,
      5_000,
      'A to claim',
    );
    // While A is still sending, B finds nothing to do.
    for (let i = 0; i < 5; i++) {
      expect(await b.dispatchDue()).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
    }
    await sending;
    receiver.releaseHeld();
    receiver.hold = false;
    const afterTimeout = (await db.query<{ state: string; last_error: string }>('SELECT state, last_error FROM notifications WHERE run_id = $1', [runId]))[0];
    expect(afterTimeout.state).toBe('pending');
    expect(afterTimeout.last_error).toMatch(/POST failed/);

    // A holder that claims and then dies (here: claimed straight through the repository, never sent).
    const outbox = h.app.get(NotificationsRepository);
    await new Promise((r) => setTimeout(r, 300));
    const claimed = await outbox.claimNext(h.app.get(AppConfig).notifications.timeoutMs + 2000);
    expect(claimed?.runId).toBe(runId);
    expect(await b.dispatchDue()).toBe(0);
    const delivered = await eventually(
      async () => {
        await b.dispatchDue();
        return receiver.deliveries.get(runId);
      },
      15_000,
      "the row to be delivered after the dead holder's lease",
    );
    expect(delivered).toBe(1);
    // The dead holder cannot record anything over the new holder's outcome.
    expect(await outbox.markSent(claimed!.id, claimed!.claimToken!)).toBe(false);
    expect((await outbox.forRun(runId))[0]).toMatchObject({ state: 'sent', attempts: 3 });
  }, 60_000);
});
