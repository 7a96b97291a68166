import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A reverse proxy between the code under test and moto that records which AWS operations were
 * called and can stall or react to one of them. Tests use it to prove a resumed run does not
 * repeat a mutating call, and to kill a worker after AWS made a change but before the worker
 * heard about it.
 */

export interface RecordedCall {
  /** The operation, e.g. CreateDBInstance, PutMetricAlarm; `METHOD /path` when none is named. */
  action: string;
  /** SigV4 signing name (rds, monitoring, sns, ecs, ...) when the request is signed. */
  service?: string;
  /** Date.now() when the request was sent on to the upstream. */
  at: number;
  /** Upstream status once it answered; undefined while in flight or when the upstream failed. */
  status?: number;
  /** False when an injected fault answered without passing the request on: it never reached AWS. */
  forwarded: boolean;
}

/**
 * A fault the proxy plays instead of a clean answer, for the next `times` calls of an action:
 * - `error` before forwarding: AWS refused without acting (throttling, 503);
 * - `error` after forwarding: AWS acted, but the client hears an error (a 500 after the change);
 * - `reset` after forwarding: AWS acted, and the connection dies before the answer.
 */
export type ProxyFault =
  | { kind: 'error'; when: 'before-forward' | 'after-forward'; status: number; code: string; times?: number }
  | { kind: 'reset'; when: 'after-forward'; times?: number }
  /** AWS acted; its answer reaches the client only after `ms` (past the client's request timeout). */
  | { kind: 'slow'; when: 'after-forward'; ms: number; times?: number };

export interface RequestInfo {
  action: string;
  service?: string;
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The upstream's status; set in the 'answered' phase only. */
  status?: number;
}

/**
 * 'received': the whole request has arrived and is being forwarded (the upstream may not have
 * acted yet); forwarding does not wait for the callback. 'answered': the upstream has answered,
 * so its change is made; the response to the client waits for the callback (then any hold).
 */
export type RequestPhase = 'received' | 'answered';

export interface RecordingProxy {
  endpoint: string;
  calls(): RecordedCall[];
  /** Calls of an operation that reached the upstream; `service:Action` (e.g. `rds:CreateDBInstance`) narrows by service, `*` is any action. */
  count(action: string): number;
  /** Plays `fault` for the next calls of `action` (once unless `times` says more). */
  injectFault(action: string, fault: ProxyFault): void;
  /**
   * AWS's API rate quota: past `perSecond` calls of `action` in any rolling second, answers 400
   * `Throttling` without forwarding (0 lifts it). Refused calls are recorded with forwarded false.
   */
  rateLimit(action: string, perSecond: number): void;
  /** Calls of `action` the rate limit refused. */
  throttled(action: string): number;
  /**
   * Hold each request of `action` for ms before forwarding it (a network that delays the request
   * itself): requests held together reach the upstream in the order they arrived. 0 stops holding.
   */
  holdRequests(action: string, ms: number): void;
  /** Forward at once but hold the upstream's answer to the client for ms; 0 stops holding. */
  holdResponses(action: string, ms: number): void;
  onRequest(action: string, cb: (info: RequestInfo) => void | Promise<void>, phase?: RequestPhase): void;
  /** Forgets recorded calls (holds and callbacks stay). */
  clear(): void;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  if (target.protocol !== 'http:') throw new Error(`recording proxy forwards to http upstreams only, got ${upstream}`);
  const agent = new http.Agent({ keepAlive: true });
  const recorded: RecordedCall[] = [];
  const holds = new Map<string, number>();
  const requestHolds = new Map<string, number>();
  const limits = new Map<string, { perSecond: number; recent: number[] }>();
  const throttledCalls: RecordedCall[] = [];
  const overLimit = (call: { action: string; service?: string; at: number }): boolean => {
    for (const [pattern, l] of limits) {
      if (!matches(pattern, call)) continue;
      while (l.recent.length > 0 && l.recent[0] <= call.at - 1000) l.recent.shift();
      if (l.recent.length >= l.perSecond) return true;
      l.recent.push(call.at);
    }
    return false;
  };
  const faults: Array<{ action: string; fault: ProxyFault; left: number }> = [];
  const takeFault = (call: { action: string; service?: string }, when: ProxyFault['when']): ProxyFault | undefined => {
    const f = faults.find((x) => x.left > 0 && x.fault.when === when && matches(x.action, call));
    if (!f) return undefined;
    f.left--;
    return f.fault;
  };
  const listeners: Array<{ action: string; phase: RequestPhase; cb: (info: RequestInfo) => void | Promise<void> }> = [];
  const pending = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();

  const matches = (pattern: string, call: { action: string; service?: string }): boolean => {
    const [service, action] = pattern.includes(':') ? pattern.split(':', 2) : [undefined, pattern];
    return (action === '*' || action === call.action) && (service === undefined || service === call.service);
  };

  const notify = (phase: RequestPhase, info: RequestInfo): Promise<unknown> => {
    const runs = listeners
      .filter((l) => l.phase === phase && matches(l.action, info))
      .map((l) =>
        Promise.resolve()
          .then(() => l.cb(info))
          // A listener that throws must not break the proxying it is observing.
          .catch((e: unknown) => console.error(`recording-proxy: onRequest(${l.action}) callback failed:`, e)),
      );
    const all = Promise.all(runs);
    pending.add(all);
    void all.finally(() => pending.delete(all));
    return all;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    // Only a request that arrived whole is forwarded: a client that vanished half-way never reached AWS.
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const { action, service } = identify(method, path, req.headers, body);
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      }
      // The body was buffered, so its length is known even if the client streamed it chunked.
      if (body.length > 0 || method !== 'GET') headers['content-length'] = String(body.length);

      const call: RecordedCall = { action, service, at: Date.now(), forwarded: true };
      recorded.push(call);
      const info: RequestInfo = { action, service, at: call.at, method, path, headers: req.headers, body };

      if (overLimit(call)) {
        call.forwarded = false;
        throttledCalls.push(call);
        return answerError(res, req.headers, 400, 'Throttling');
      }
      const refuse = takeFault(call, 'before-forward');
      if (refuse?.kind === 'error') {
        call.forwarded = false;
        return answerError(res, req.headers, refuse.status, refuse.code);
      }
      const afterFault = takeFault(call, 'after-forward');

      // Forwarded even if the client has gone: AWS would have the request by now, and a worker
      // killed mid-call must leave the same trace in the sandbox as it would in an account.
      const upstreamReq = http.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method,
          path,
          headers,
          agent,
        },
        (upstreamRes) => {
          const out: Buffer[] = [];
          upstreamRes.on('data', (c: Buffer) => out.push(c));
          upstreamRes.on('error', () => fail(502, 'upstream response broke off'));
          // Node does not look at a listener's promise; `void` says so.
          upstreamRes.on(
            'end',
            () =>
              void (async () => {
                const status = upstreamRes.statusCode ?? 502;
                call.status = status;
                // Awaited, so a test can kill the caller knowing it never sees this answer.
                await notify('answered', { ...info, status });
                if (afterFault?.kind === 'reset') return void req.socket.destroy();
                if (afterFault?.kind === 'error') return answerError(res, req.headers, afterFault.status, afterFault.code);
                const payload = Buffer.concat(out);
                const resHeaders: http.OutgoingHttpHeaders = {};
                for (const [k, v] of Object.entries(upstreamRes.headers)) {
                  if (!HOP_BY_HOP.has(k) && v !== undefined) resHeaders[k] = v;
                }
                resHeaders['content-length'] = String(payload.length);
                const send = () => {
                  if (res.destroyed || res.writableEnded) return;
                  res.writeHead(status, upstreamRes.statusMessage, resHeaders);
                  res.end(payload);
                };
                const hold = afterFault?.kind === 'slow' ? afterFault.ms : holdFor(action, service);
                if (hold <= 0) return send();
                const timer = setTimeout(() => {
                  timers.delete(timer);
                  send();
                }, hold);
                timers.add(timer);
              })(),
          );
        },
      );
      upstreamReq.on('error', (e) => fail(502, `upstream ${upstream} failed: ${e.message}`));
      let requestHold = 0;
      for (const [pattern, ms] of requestHolds) if (matches(pattern, call)) requestHold = Math.max(requestHold, ms);
      if (requestHold > 0) {
        // Recorded when it reaches the upstream, as a count of what AWS saw should be.
        call.forwarded = false;
        const timer = setTimeout(() => {
          timers.delete(timer);
          call.forwarded = true;
          call.at = Date.now();
          upstreamReq.end(body);
        }, requestHold);
        timers.add(timer);
      } else upstreamReq.end(body);
      void notify('received', info);

      function fail(status: number, message: string) {
        if (res.headersSent || res.destroyed) return;
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(message);
      }
    });
  });

  const holdFor = (action: string, service: string | undefined): number => {
    let ms = 0;
    for (const [pattern, hold] of holds) if (matches(pattern, { action, service })) ms = Math.max(ms, hold);
    return ms;
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: () => recorded.map((c) => ({ ...c })),
    count: (action) => recorded.filter((c) => c.forwarded && matches(action, c)).length,
    injectFault(action, fault) {
      faults.push({ action, fault, left: fault.times ?? 1 });
    },
    rateLimit(action, perSecond) {
      if (perSecond > 0) limits.set(action, { perSecond, recent: [] });
      else limits.delete(action);
    },
    throttled: (action) => throttledCalls.filter((c) => matches(action, c)).length,
    holdRequests(action, ms) {
      if (ms > 0) requestHolds.set(action, ms);
      else requestHolds.delete(action);
    },
    holdResponses(action, ms) {
      if (ms > 0) holds.set(action, ms);
      else holds.delete(action);
    },
    onRequest(action, cb, phase = 'received') {
      listeners.push({ action, phase, cb });
    },
    clear() {
      recorded.length = 0;
      throttledCalls.length = 0;
      faults.length = 0;
    },
    async stop() {
      holds.clear();
      requestHolds.clear();
      listeners.length = 0;
      await Promise.allSettled([...pending]);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Held responses and idle keep-alive sockets would otherwise keep close() waiting.
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

/** An AWS error answer in the request's own protocol: JSON for X-Amz-Target APIs, XML for query APIs. */
function answerError(res: http.ServerResponse, headers: http.IncomingHttpHeaders, status: number, code: string): void {
  if (res.destroyed || res.headersSent) return;
  const message = `injected by the recording proxy (${status} ${code})`;
  if (typeof headers['x-amz-target'] === 'string') {
    const body = JSON.stringify({ __type: code, message });
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-errortype': code,
      'x-amzn-requestid': 'injected',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return;
  }
  const body = `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>`;
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': 'injected', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Names the operation the way each AWS wire protocol does:
 * - query (RDS, SNS, older CloudWatch): `Action=` in the form body, or in the query string;
 * - JSON 1.0/1.1 (CloudWatch in SDK v3 ≥ 2025, ECS, ...): `X-Amz-Target: <ServiceTarget>.<Operation>`;
 * - Smithy RPC v2 CBOR: `POST /service/<ServiceTarget>/operation/<Operation>`.
 */
export function identify(method: string, path: string, headers: http.IncomingHttpHeaders, body: Buffer): { action: string; service?: string } {
  const service = signingService(headers.authorization);
  const url = new URL(path, 'http://proxy.invalid');

  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) {
    return { action: target.slice(target.lastIndexOf('.') + 1), service };
  }
  const rpc = /^\/service\/[^/]+\/operation\/([^/?]+)/.exec(url.pathname);
  if (rpc) return { action: decodeURIComponent(rpc[1]), service };

  const fromQuery = url.searchParams.get('Action');
  if (fromQuery) return { action: fromQuery, service };
  const type = String(headers['content-type'] ?? '');
  if (body.length > 0 && (type.includes('x-www-form-urlencoded') || type === '')) {
    const fromForm = new URLSearchParams(body.toString('utf8')).get('Action');
    if (fromForm) return { action: fromForm, service };
  }
  return { action: `${method} ${url.pathname}`, service };
}

function signingService(authorization: string | undefined): string | undefined {
  // AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/rds/aws4_request, SignedHeaders=..., Signature=...
  const m = authorization ? /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization) : null;
  return m?.[1];
}
