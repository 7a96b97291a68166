import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ApiClient } from '../../src/cli/api-client.adapter';
import { CliOutput } from '../../src/cli/cli-output';
import { followRun, StepPrinter } from '../../src/cli/run-follower';

/**
 * The follower uses the run's event stream when the service has one and polling otherwise.
 * A stand-in service whose run changes twice: with events, each change is seen at once even
 * though the poll interval is a minute; without the endpoint (404), polling still gets there.
 */
describe('CLI run follower: event stream when there is one, polling otherwise', () => {
  let server: Server;
  let url: string;
  let withEvents = true;
  let state = 'running';
  const streams: ServerResponse[] = [];
  let reads = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.headers.authorization !== 'Bearer k') return void res.writeHead(401).end();
      if (req.url === '/v1/runs/r1/events') {
        if (!withEvents) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND"}}');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': hello\n\n');
        streams.push(res);
        return;
      }
      if (req.url === '/v1/runs/r1') {
        reads++;
        const steps = [{ id: 'a', uses: 'core.noop', phase: 'main', state: state === 'running' ? 'running' : 'succeeded', durationMs: 10 }];
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'r1', state, steps }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of streams) s.end();
    await new Promise((r) => server.close(r));
  });

  const output = () => {
    let text = '';
    const sink = new Writable({
      write: (c, _e, cb) => {
        text += String(c);
        cb();
      },
    });
    return { out: new CliOutput({ json: false, colour: false }, sink, sink), text: () => text };
  };

  it('wakes on each server-sent event instead of waiting for the next poll', async () => {
    withEvents = true;
    state = 'running';
    const { out, text } = output();
    const started = Date.now();
    const following = followRun(new ApiClient({ url, apiKey: 'k' }), 'r1', out, { pollMs: 60_000, safetyPollMs: 60_000, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    state = 'succeeded';
    for (const s of streams) s.write('event: step.ended\ndata: {"runId":"r1"}\n\n');
    const result = await following;
    expect(result).toMatchObject({ finished: true, source: 'events' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(text()).toMatch(/▶ a \(core\.noop\) started/);
    expect(text()).toMatch(/✓ a \(core\.noop\) succeeded/);
  });

  it('falls back to polling when the service has no event stream (404)', async () => {
    withEvents = false;
    state = 'running';
    reads = 0;
    const { out } = output();
    const following = followRun(new ApiClient({ url, apiKey: 'k' }), 'r1', out, { pollMs: 50, timeoutMs: 20_000 });
    setTimeout(() => (state = 'failed'), 300);
    const result = await following;
    expect(result).toMatchObject({ finished: true, source: 'polling' });
    expect(result.run.state).toBe('failed');
    expect(reads).toBeGreaterThan(2);
  });

  it('stops at the timeout with the run still going', async () => {
    withEvents = false;
    state = 'running';
    const { out } = output();
    const result = await followRun(new ApiClient({ url, apiKey: 'k' }), 'r1', out, { pollMs: 50, timeoutMs: 300 });
    expect(result.finished).toBe(false);
    expect(result.run.state).toBe('running');
  });

  it("stamps a finished run's steps with when they ran, not when it was followed", () => {
    const { out, text } = output();
    const printer = new StepPrinter(out, () => new Date('2026-12-07T15:00:00.000Z'));
    printer.update({
      id: 'r9',
      state: 'succeeded',
      createdAt: '2026-12-07T09:59:58.000Z',
      startedAt: '2026-12-07T10:00:00.000Z',
      endedAt: '2026-12-07T10:00:09.500Z',
      steps: [
        {
          id: 'b',
          uses: 'core.noop',
          phase: 'cleanup',
          state: 'succeeded',
          startedAt: '2026-12-07T10:00:08.000Z',
          endedAt: '2026-12-07T10:00:09.000Z',
          durationMs: 1000,
        },
        {
          id: 'a',
          uses: 'core.sleep',
          phase: 'main',
          state: 'succeeded',
          startedAt: '2026-12-07T10:00:01.000Z',
          endedAt: '2026-12-07T10:00:07.000Z',
          durationMs: 6000,
        },
      ],
    });
    expect(text().split('\n').filter(Boolean)).toEqual([
      '10:00:09Z run r9 succeeded',
      '10:00:01Z ▶ a (core.sleep) started',
      '10:00:07Z ✓ a (core.sleep) succeeded in 6.0s',
      '10:00:08Z ▶ cleanup b (core.noop) started',
      '10:00:09Z ✓ cleanup b (core.noop) succeeded in 1.0s',
    ]);
    // A run from another day says which day.
    const other = output();
    new StepPrinter(other.out, () => new Date('2026-12-08T01:00:00.000Z')).update({
      id: 'r9',
      state: 'failed',
      endedAt: '2026-12-07T23:59:59.000Z',
      steps: [],
    });
    expect(other.text()).toBe('2026-12-07 23:59:59Z run r9 failed\n');
  });
});
