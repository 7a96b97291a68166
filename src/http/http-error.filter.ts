import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AuthError } from '../auth/auth.error';
import { AwsStepError } from '../aws/aws.error';
import { CodedError, RequestError } from '../common/coded-error';
import { ApprovalError } from '../engine/approval.error';
import { redactText } from '../common/redact';
import { SecretsError } from '../common/secret-envelope';
import { EngineError } from '../engine/engine.error';
import { DatabaseError } from '../persistence/database.error';
import { MigrationError } from '../persistence/migration.error';
import { RunbookError } from '../runbooks/runbook.error';
import { ScheduleError } from '../triggers/schedules/schedule.error';
import { SnsError } from '../triggers/sns/sns.error';

type AnyCodedError =
  | ApprovalError | AuthError | AwsStepError | EngineError | RunbookError | RequestError | SnsError | ScheduleError | DatabaseError | MigrationError
  | SecretsError;

/**
 * The one map from error codes to HTTP. The switch is exhaustive over every area's code union:
 * adding a code anywhere without a status here does not compile.
 */
export function httpStatusOf(error: AnyCodedError): number {
  const code = error.code;
  switch (code) {
    case 'INVALID_REQUEST':
    case 'PARAMETERS_INVALID':
    // A runbook's preflight refused the request (e.g. a restore point outside the restorable window).
    case 'PREFLIGHT_FAILED':
    case 'SNS_MESSAGE_INVALID':
    case 'SNS_CERT_URL_REJECTED':
    case 'SNS_MESSAGE_STALE':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
    case 'TARGET_NOT_ALLOWED':
    case 'TRIGGER_NOT_ALLOWED':
    case 'SNS_SIGNATURE_INVALID':
    case 'SNS_TOPIC_NOT_ACCEPTED':
    // The requester approving their own run, or a key the runbook does not name as an approver.
    case 'APPROVAL_NOT_ALLOWED':
    case 'SNS_ALARM_NOT_CONFIRMED':
      return 403;
    case 'NOT_FOUND':
    case 'RUNBOOK_NOT_FOUND':
    case 'RUN_NOT_FOUND':
    case 'SCHEDULE_NOT_FOUND':
    case 'APPROVAL_NOT_FOUND':
      return 404;
    case 'CONCURRENCY_CONFLICT':
    case 'RUN_NOT_CANCELLABLE':
    case 'APPROVAL_ALREADY_DECIDED':
    case 'APPROVAL_PLAN_CHANGED':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'IDEMPOTENCY_KEY_REUSED':
      return 422;
    case 'AWS_THROTTLED':
      return 429;
    case 'AWS_NOT_FOUND':
    case 'AWS_INVALID_INPUT':
    case 'AWS_INVALID_STATE':
    case 'AWS_ACCESS_DENIED':
    case 'AWS_UNAVAILABLE':
    case 'AWS_FAILED':
      return 502;
    case 'AWS_TIMEOUT':
      return 504;
    // SNS retries a delivery answered 5xx: right when AWS's certificate could not be fetched just now.
    case 'SNS_CERT_UNAVAILABLE':
    // The database timed out or is away (failover): the same request may well succeed shortly.
    case 'DB_TIMEOUT':
    case 'DB_UNAVAILABLE':
    // ... and when CloudWatch could not be asked whether the alarm is real.
    case 'SNS_ALARM_SOURCE_UNAVAILABLE':
      return 503;
    // Codes that describe how a run ended; they reach HTTP only through a bug.
    case 'RUNBOOK_INVALID':
    case 'AWS_DRY_RUN_VIOLATION':
    case 'AWS_WAIT_FAILURE_STATE':
    case 'AWS_WAIT_TIMEOUT':
    case 'STEP_INPUT_INVALID':
    case 'STEP_TIMEOUT':
    case 'STEP_CRASHED':
    case 'RUN_TIMEOUT':
    case 'STOP_CONDITION':
    case 'STOP_CONDITION_CHECK_FAILED':
    case 'CANCELLED':
    case 'CLEANUP_FAILED':
    case 'FINDINGS_FAILED':
    case 'PRECONDITION_FAILED':
    case 'RESTORE_FAILED':
    case 'CHILD_RUN_FAILED':
    case 'LEASE_LOST':
    case 'RUN_DEAD_LETTERED':
    case 'RECORDING_FAILED':
    case 'APPROVAL_REJECTED':
    case 'APPROVAL_EXPIRED':
    // A sealed parameter that does not open ends the run; no request opens one.
    case 'SECRETS_KEY_UNKNOWN':
    case 'SECRETS_TAMPERED':
    // Raised at boot, before the HTTP server listens.
    case 'MIGRATION_GAP':
    case 'MIGRATION_DUPLICATE':
    case 'MIGRATION_OUT_OF_ORDER':
      return 500;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

/** Every error leaves as `{ error: { code, message, details } }`; a 5xx never carries internals. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let status: number;
    let body: { code: string; message: string; details: Record<string, unknown> };
    if (exception instanceof CodedError) {
      const e = exception as AnyCodedError;
      status = httpStatusOf(e);
      body = { code: e.code, message: e.message, details: e.details };
      if (e.code === 'UNAUTHENTICATED') {
        reply.header('WWW-Authenticate', e.details.reason === 'missing' ? 'Bearer realm="runbookd"' : 'Bearer realm="runbookd", error="invalid_token"');
      }
    } else if (exception instanceof HttpException) {
      // Framework-level rejections (unknown route, unparsable JSON, body too large).
      status = exception.getStatus();
      const code = status === 404 ? 'NOT_FOUND' : status === 413 ? 'PAYLOAD_TOO_LARGE' : status < 500 ? 'INVALID_REQUEST' : 'INTERNAL';
      body = { code, message: exception.message, details: {} };
    } else if (isFastifyClientError(exception)) {
      status = exception.statusCode;
      body = { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_REQUEST', message: exception.message, details: {} };
    } else {
      status = 500;
      body = { code: 'INTERNAL', message: 'internal error; see the service log', details: {} };
    }
    if (status >= 500) this.logger.error(redactText(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)));
    void reply.status(status).send({ error: body });
  }
}

function isFastifyClientError(e: unknown): e is { statusCode: number; message: string } {
  const s = (e as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 500;
}
