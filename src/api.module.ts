import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from './auth/api-key.service';
import { AuthGuard } from './auth/auth.guard';
import { SessionService } from './auth/session.service';
import { SignInAttemptsAdapter } from './auth/sign-in-attempts.adapter';
import { SignInGate } from './auth/sign-in-gate.service';
import { RunEventsService } from './engine/run-events.service';
import { SessionsRepository } from './persistence/sessions.repository';
import { SessionController } from './http/session.controller';
import { OidcSessionController } from './http/oidc-session.controller';
import { OidcClientAdapter } from './auth/oidc-client.adapter';
import { OidcSignInService } from './auth/oidc-sign-in.service';
import { OidcLoginsRepository } from './persistence/oidc-logins.repository';
import { HealthController } from './observability/health.controller';
import { MetricsController } from './observability/metrics.controller';
import { MetricsService } from './observability/metrics.service';
import { ApprovalsController } from './http/approvals.controller';
import { AuditController } from './http/audit.controller';
import { RunbooksController } from './http/runbooks.controller';
import { IamPolicyController } from './http/iam-policy.controller';
import { ReportsController } from './http/reports.controller';
import { RunsController } from './http/runs.controller';
import { SchedulesController } from './http/schedules.controller';
import { ResourcesController } from './http/resources.controller';
import { StopSwitchController } from './http/stop-switch.controller';
import { ResilienceController } from './http/resilience.controller';
import { ResourceNamesService } from './aws/resource-names.service';
import { AlarmConfirmationService } from './triggers/sns/alarm-confirmation.service';
import { AlarmRouter } from './triggers/sns/alarm-router.service';
import { SnsRefusalSampler } from './triggers/sns/sns-refusal-sampler.service';
import { snsCertificateFetcherProvider } from './triggers/sns/sns-certificate.provider';
import { SnsSignatureVerifier } from './triggers/sns/sns-signature.verifier';
import { SnsWebhookController } from './triggers/sns/sns-webhook.controller';
import { SnsWebhookService } from './triggers/sns/sns-webhook.service';
import { AlarmNotificationService } from './triggers/sns/alarm-notification.service';
import { SnsEnvelopeCheck } from './triggers/sns/sns-envelope.check';
import { SnsMessageRecorder } from './triggers/sns/sns-message-recorder.service';
import { EventBridgeWebhookController } from './triggers/eventbridge/eventbridge-webhook.controller';
import { EventBridgeWebhookService } from './triggers/eventbridge/eventbridge-webhook.service';

/** The HTTP API: every route needs an API key unless marked @Public. */
@Module({
  controllers: [
    RunbooksController,
    IamPolicyController,
    RunsController,
    AuditController,
    HealthController,
    MetricsController,
    SchedulesController,
    ReportsController,
    SnsWebhookController,
    EventBridgeWebhookController,
    SessionController,
    OidcSessionController,
    ApprovalsController,
    ResourcesController,
    StopSwitchController,
    ResilienceController,
  ],
  providers: [
    ApiKeyService,
    SessionsRepository,
    SessionService,
    SignInAttemptsAdapter,
    SignInGate,
    OidcClientAdapter,
    OidcLoginsRepository,
    OidcSignInService,
    RunEventsService,
    MetricsService,
    ResourceNamesService,
    { provide: APP_GUARD, useClass: AuthGuard },
    AlarmRouter,
    AlarmConfirmationService,
    SnsRefusalSampler,
    snsCertificateFetcherProvider,
    SnsSignatureVerifier,
    SnsEnvelopeCheck,
    SnsMessageRecorder,
    AlarmNotificationService,
    SnsWebhookService,
    EventBridgeWebhookService,
  ],
})
export class ApiModule {}
