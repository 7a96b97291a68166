import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Forgets every resource in every service and region (moto's own reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/**
 * A private moto_server per caller, so parallel Jest workers never see each other's resources
 * and a reset in one suite cannot pull the floor from under another.
 */
export async function startMoto(): Promise<MotoServer> {
  let lastError: unknown;
  // The free port is only free until someone else binds it; losing that race is retried.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(port);
    } catch (e) {
      lastError = e;
      if (!(e instanceof PortTakenError)) throw e;
    }
  }
  throw lastError;
}

class PortTakenError extends Error {}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function launch(port: number): Promise<MotoServer> {
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  try {
    child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
      // Own process group: stop() signals the group, so a wrapper (pyenv shim) cannot orphan Python.
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    throw new Error(`could not spawn moto_server: ${(e as Error).message}`, { cause: e });
  }

  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    // Only the start-up lines matter for diagnosis; werkzeug logs every request after that.
    if (stderr.length < 8_000) stderr += chunk;
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  child.once('exit', (code, signal) => (exited = { code, signal }));

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || exited) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // A test run that crashes before stop() must not leave a server behind.
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) {
      process.removeListener('exit', onExit);
      const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? 'moto_server is not on PATH; install it with pip install "moto[server]" (see scripts/sandbox/ensure-services.sh)'
          : `could not spawn moto_server: ${spawnError.message}`,
      );
    }
    if (exited) {
      process.removeListener('exit', onExit);
      if (/address already in use/i.test(stderr)) throw new PortTakenError(`port ${port} taken`);
      throw new Error(`moto_server exited (${exited.code ?? exited.signal}) while starting:\n${stderr.slice(-2000)}`);
    }
    if (await answers(`${endpoint}/moto-api/`)) break;
    if (Date.now() > deadline) {
      killGroup('SIGKILL');
      process.removeListener('exit', onExit);
      throw new Error(`moto_server on port ${port} did not answer within ${START_TIMEOUT_MS / 1000}s:\n${stderr.slice(-2000)}`);
    }
    await sleep(100);
  }
  // Only start-up output was worth keeping; an unread pipe would eventually block moto.
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();

  return {
    endpoint,
    port,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset answered ${res.status}`);
    },
    async stop() {
      process.removeListener('exit', onExit);
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
