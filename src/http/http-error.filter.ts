import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AuthError } from '../auth/auth.error';
import { AwsStepError } from '../aws/aws.error';
import { CodedError, RequestError } from '../common/coded-error';
import { ApprovalError } from '../engine/approval.error';
import { redactText } from '../common/redact';
import { SecretsError } from '../common/secret-envelope';
import { EngineError } from '../engine/engine.error';
import { FleetError } from '../fleets/fleet.error';
import { DatabaseError } from '../persistence/database.error';
import { MigrationError } from '../persistence/migration.error';
import { RunbookError } from '../runbooks/runbook.error';
import { ScheduleError } from '../triggers/schedules/schedule.error';
import { SnsError } from '../triggers/sns/sns.error';
import { WebhookError } from '../triggers/webhook.error';

type AnyCodedError =
  | FleetError
  | ApprovalError
  | AuthError
  | AwsStepError
  | EngineError
  | RunbookError
  | RequestError
  | SnsError
  | WebhookError
  | ScheduleError
  | DatabaseError
  | MigrationError
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
    case 'WEBHOOK_STALE':
    case 'WEBHOOK_EVENT_INVALID':
      return 400;
    case 'UNAUTHENTICATED':
    case 'WEBHOOK_UNAUTHENTICATED':
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
    // A webhook whose source is not set up here: as if the route were not there.
    case 'WEBHOOK_NOT_CONFIGURED':
    case 'SCHEDULE_NOT_FOUND':
    case 'APPROVAL_NOT_FOUND':
      return 404;
    case 'CONCURRENCY_CONFLICT':
    case 'WEBHOOK_REPLAYED':
    case 'RUN_NOT_CANCELLABLE':
    case 'APPROVAL_ALREADY_DECIDED':
    case 'APPROVAL_PLAN_CHANGED':
    case 'STOP_SWITCH_UNCHANGED':
      return 409;
    // Everything is stopped (stop-all): "locked" until an admin runs resume-all.
    case 'STOPPED':
      return 423;
    case 'URI_TOO_LONG':
      return 414;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'IDEMPOTENCY_KEY_REUSED':
    // A fleet request that cannot be acted on as asked: no targets, targets the runbook cannot take, bad rate control.
    case 'FLEET_NOT_SUPPORTED':
    case 'FLEET_TARGETS_INVALID':
    case 'FLEET_RESOURCE_TYPE_NOT_BOUND':
    case 'FLEET_RATE_INVALID':
    case 'FLEET_TARGETS_EMPTY':
    case 'FLEET_TOO_MANY_TARGETS':
      return 422;
    case 'AWS_THROTTLED':
    // The webhook's per-source limit (@fastify/rate-limit): SNS retries a 429 with back-off.
    case 'RATE_LIMITED':
    // Too many refused sign-ins from one address or with one key prefix (auth/sign-in-gate.service.ts).
    case 'SIGN_IN_THROTTLED':
      return 429;
    case 'AWS_NOT_FOUND':
    case 'AWS_ALREADY_EXISTS':
    case 'AWS_INVALID_INPUT':
    case 'AWS_INVALID_STATE':
    case 'AWS_ACCESS_DENIED':
    case 'AWS_UNAVAILABLE':
    case 'AWS_FAILED':
    case 'IDP_UNAVAILABLE':
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
    case 'SWITCH_TARGET_MISSED':
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
  catch(exception: unknown, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<FastifyReply>(), exception);
  }
}

const logger = new Logger('Http');

/**
 * The one way an error becomes an answer: used by the filter, and by Fastify's `frameworkErrors`
 * for what fails before a route is found (a URL that does not decode), which no Nest filter sees.
 */
export function sendError(reply: FastifyReply, exception: unknown): void {
  const coded = exception instanceof CodedError ? (exception as AnyCodedError) : frameworkError(exception);
  let status: number;
  let body: { code: string; message: string; details: Record<string, unknown> };
  if (coded) {
    status = httpStatusOf(coded);
    body = { code: coded.code, message: coded.message, details: coded.details };
    if (coded.code === 'UNAUTHENTICATED') {
      reply.header('WWW-Authenticate', coded.details.reason === 'missing' ? 'Bearer realm="runbookd"' : 'Bearer realm="runbookd", error="invalid_token"');
    }
    // Any error that knows when trying again makes sense says so the standard way too.
    const retryAfter = coded.details.retryAfterSeconds;
    if (typeof retryAfter === 'number' && Number.isInteger(retryAfter) && retryAfter > 0) reply.header('Retry-After', String(retryAfter));
  } else {
    status = 500;
    body = { code: 'INTERNAL', message: 'internal error; see the service log', details: {} };
  }
  if (status >= 500) logger.error(redactText(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)));
  void reply.status(status).send({ error: body });
}

/**
 * Framework-level rejections (Nest's HttpException: unknown route; Fastify's FST_ERR_* client
 * errors: bad URL, media type, empty or broken JSON, body too large, content length) as request
 * errors, so their status, too, comes from the one switch above. Anything else is null: a 500.
 */
function frameworkError(e: unknown): RequestError | null {
  let status: number;
  let message: string;
  if (e instanceof HttpException) {
    status = e.getStatus();
    message = e.message;
  } else if (isFastifyClientError(e)) {
    status = e.statusCode;
    // The rate limiter throws the body its errorResponseBuilder made: keep its message.
    const built = (e as { error?: { message?: unknown } }).error?.message;
    message = e.code === 'FST_ERR_BAD_URL' ? 'the URL is malformed (it does not decode)' : typeof built === 'string' ? built : e.message;
  } else return null;
  if (status >= 500) return null;
  const code =
    status === 404
      ? 'NOT_FOUND'
      : status === 413
        ? 'PAYLOAD_TOO_LARGE'
        : status === 414
          ? 'URI_TOO_LONG'
          : status === 415
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : status === 429
              ? 'RATE_LIMITED'
              : 'INVALID_REQUEST';
  return new RequestError(code, message);
}

function isFastifyClientError(e: unknown): e is { statusCode: number; message: string; code?: string } {
  const s = (e as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 500;
}
