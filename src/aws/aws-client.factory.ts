import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { BackupClient } from '@aws-sdk/client-backup';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import { SNSClient } from '@aws-sdk/client-sns';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { AppConfig } from '../config/app.config';

/** The settings every client gets; each SDK client's own config type accepts them. */
export interface AwsClientSettings {
  region: string;
  maxAttempts: number;
  /** Lower case: the SDK compares it to 'adaptive' exactly and quietly falls back to standard otherwise. */
  retryMode: 'adaptive';
  credentials?: ReturnType<typeof fromTemporaryCredentials>;
  endpoint?: string;
}

export interface DestroyableClient {
  destroy(): void;
}

export type AwsClientConstructor<C extends DestroyableClient> = new (settings: AwsClientSettings) => C;

export const RUNBOOKD_ROLE_SESSION_NAME = 'runbookd';

/** Who an assumed-role session acts for: it is named after the run and carries the actor as SourceIdentity. */
export interface AwsSession {
  runId: string;
  actor: string;
}

/**
 * The session of the call being sent, set by AwsServiceCalls around its client lookup, so every
 * adapter's `clientFor(region, role)` gets a per-run client without each adapter passing it on.
 */
export const awsSessionScope = new AsyncLocalStorage<AwsSession>();

/** Role clients kept at most: one per (service, region, role, run); the oldest are closed first. */
const MAX_SESSION_CLIENTS = 256;

/** Where an adapter call goes: a region, or a region plus the role to assume there (cross-account targets). */
export type AwsTarget = string | { region: string; roleArn?: string };

export function resolveTarget(target: AwsTarget): { region: string; roleArn?: string } {
  return typeof target === 'string' ? { region: target } : target;
}

/**
 * One SDK client per (service, region, role), made on first use and kept: clients hold
 * connection pools, credential caches and the adaptive retry token bucket, which only help when
 * shared. Endpoints are not set here: the SDK reads AWS_ENDPOINT_URL and
 * AWS_ENDPOINT_URL_<SERVICE> itself (that is how tests and the sandbox reach moto).
 */
@Injectable()
export class AwsClientFactory implements OnModuleDestroy {
  private readonly clients = new Map<string, DestroyableClient>();

  constructor(private readonly config: AppConfig) {}

  rds(region?: string, roleArn?: string): RDSClient {
    return this.client('rds', RDSClient, region, roleArn);
  }

  cloudwatch(region?: string, roleArn?: string): CloudWatchClient {
    return this.client('cloudwatch', CloudWatchClient, region, roleArn);
  }

  ecs(region?: string, roleArn?: string): ECSClient {
    return this.client('ecs', ECSClient, region, roleArn);
  }

  sns(region?: string, roleArn?: string): SNSClient {
    return this.client('sns', SNSClient, region, roleArn);
  }

  backup(region?: string, roleArn?: string): BackupClient {
    return this.client('backup', BackupClient, region, roleArn);
  }

  /** The extension point: a new service is `xyz(r, role) { return this.client('xyz', XyzClient, r, role); }`. */
  client<C extends DestroyableClient>(service: string, Client: AwsClientConstructor<C>, region?: string, roleArn?: string): C {
    const resolvedRegion = region || this.config.awsRegion;
    // A role session is named after its run, so a role client belongs to one run (credentials are
    // memoized inside the client); calls without a role share one client per service and region.
    const session = roleArn ? awsSessionScope.getStore() : undefined;
    const key = `${service}\u0000${resolvedRegion}\u0000${roleArn ?? ''}\u0000${session?.runId ?? ''}`;
    const cached = this.clients.get(key);
    if (cached) return cached as C;
    const client = new Client(this.settings(resolvedRegion, roleArn, service, session));
    if (session?.runId) this.evictOldSessionClients();
    this.clients.set(key, client);
    return client;
  }

  settings(region: string, roleArn?: string, service?: string, session?: AwsSession): AwsClientSettings {
    const settings: AwsClientSettings = { region, maxAttempts: this.config.awsMaxAttempts, retryMode: 'adaptive' };
    // Sandbox endpoints come from the validated config (the SDK would also read them from the
    // environment itself, but then two places would decide where AWS calls go).
    const endpoint = this.endpointFor(service);
    if (endpoint) settings.endpoint = endpoint;
    if (roleArn) {
      const stsEndpoint = this.endpointFor('sts');
      settings.credentials = fromTemporaryCredentials({
        params: {
          RoleArn: roleArn,
          RoleSessionName: session?.runId ? `${RUNBOOKD_ROLE_SESSION_NAME}-${session.runId}` : RUNBOOKD_ROLE_SESSION_NAME,
          ...(session?.actor ? { SourceIdentity: sourceIdentity(session.actor) } : {}),
        },
        clientConfig: { region, maxAttempts: this.config.awsMaxAttempts, retryMode: 'adaptive', ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) },
      });
    }
    return settings;
  }

  private evictOldSessionClients(): void {
    const perRun = [...this.clients.keys()].filter((k) => !k.endsWith('\u0000'));
    for (const k of perRun.slice(0, Math.max(0, perRun.length - MAX_SESSION_CLIENTS + 1))) {
      this.clients.get(k)?.destroy();
      this.clients.delete(k);
    }
  }

  private endpointFor(service: string | undefined): string | undefined {
    const endpoints = this.config.awsEndpoints ?? {};
    return (service && endpoints[`AWS_ENDPOINT_URL_${service.toUpperCase()}`]) || endpoints.AWS_ENDPOINT_URL;
  }

  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }

  onModuleDestroy(): void {
    this.destroy();
  }
}

/**
 * STS allows 2-64 characters of [A-Za-z0-9_+=,.@-] in SourceIdentity: `schedule:monthly` becomes
 * `schedule=monthly`, `alarm:x` `alarm=x`; a key name is kept as it is.
 */
export function sourceIdentity(actor: string): string {
  const s = actor.replace(/:/g, '=').replace(/[^\w+=,.@-]/g, '_').slice(0, 64);
  return s.length >= 2 ? s : `${s}__`.slice(0, 2);
}
