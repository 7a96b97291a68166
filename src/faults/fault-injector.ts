import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, FaultPoint } from '../config/app.config';

import { DatabaseError } from '../persistence/database.error';

/** Thrown at a `throw@…` fault point: stands for an infrastructure failure (not a step's). */
export class InjectedFault extends Error {
  constructor(readonly point: string) {
    super(`injected fault at ${point}`);
    this.name = 'InjectedFault';
  }
}

/**
 * The fault suite's hook into a real process: at a named point it kills or freezes this process,
 * or throws, exactly as a crash, a GC pause, a broken dependency or a database that drops one
 * statement would. The points come from
 * config (`RUNBOOKD_FAULT_INJECT`), which refuses them in production; with none configured,
 * `at()` returns at once. A crash or stall fires once per process; a throw every time.
 */
@Injectable()
export class FaultInjector {
  private readonly logger = new Logger('FaultInjector');
  private readonly armed: Map<string, FaultPoint['action']>;

  constructor(config: AppConfig) {
    this.armed = new Map((config.faultPoints ?? []).map((f) => [f.point, f.action]));
  }

  at(point: string): void {
    if (this.armed.size === 0) return;
    const action = this.armed.get(point);
    if (!action) return;
    // A thrown fault stays armed: it stands for a dependency that keeps failing (the dead letter's case).
    if (action !== 'throw') this.armed.delete(point);
    // Written synchronously, so the test reading the log knows where the process stopped.
    process.stderr.write(`fault-injector: ${action} at ${point}\n`);
    if (action === 'crash') process.kill(process.pid, 'SIGKILL');
    if (action === 'stall') process.kill(process.pid, 'SIGSTOP');
    if (action === 'throw') throw new InjectedFault(point);
    // What the driver's error becomes when PostgreSQL drops the connection under one statement.
    if (action === 'dbfail') throw new DatabaseError('DB_UNAVAILABLE', `database unavailable: injected at ${point}`);
    this.logger.warn(`resumed after ${action} at ${point}`);
  }
}
