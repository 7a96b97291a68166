import { CodedError } from '../common/coded-error';
import { sqlState } from './database';

/**
 * Database trouble, as opposed to a bug or a refused write: a statement cancelled by its
 * statement_timeout or lock_timeout, or a connection that is gone (failover, restart, network).
 * Always retryable: the same statement may well succeed a moment later. The engine treats it as
 * infrastructure, never as a step's failure; HTTP answers 503.
 */
export type DatabaseErrorCode = 'DB_TIMEOUT' | 'DB_UNAVAILABLE';

export class DatabaseError extends CodedError<DatabaseErrorCode> {
  readonly area = 'database';

  constructor(code: DatabaseErrorCode, message: string, details: { sqlState?: string; cause?: string } = {}) {
    super(code, message, details, true);
  }
}

/** query_canceled (statement_timeout), lock_not_available (lock_timeout). */
const TIMEOUT_STATES = new Set(['57014', '55P03']);
/** admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections; class 08 is matched by prefix. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
/** node-postgres reports these without a code. */
const UNAVAILABLE_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Query read timeout/i,
  /Client has encountered a connection error/i,
  /Connection closed/i,
];

/**
 * The coded error for what the driver threw, or undefined when it is not database trouble (a
 * unique violation, a syntax error: those keep their own shape for the caller to judge).
 */
export function toDatabaseError(err: unknown): DatabaseError | undefined {
  if (err instanceof DatabaseError) return err;
  const state = sqlState(err);
  const message = err instanceof Error ? err.message : String(err);
  if (state && TIMEOUT_STATES.has(state)) {
    const what = state === '55P03' ? 'waited too long for a lock (lock_timeout)' : 'ran past its statement_timeout';
    return new DatabaseError('DB_TIMEOUT', `database statement ${what}`, { sqlState: state });
  }
  if (state && (UNAVAILABLE_STATES.has(state) || state.startsWith('08'))) {
    return new DatabaseError('DB_UNAVAILABLE', `database unavailable: ${message}`, { sqlState: state });
  }
  if (state && NETWORK_CODES.has(state)) return new DatabaseError('DB_UNAVAILABLE', `database unavailable: ${message}`, { cause: state });
  if (UNAVAILABLE_MESSAGES.some((re) => re.test(message))) {
    return new DatabaseError('DB_UNAVAILABLE', `database unavailable: ${message}`, { cause: message });
  }
  return undefined;
}
