import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { BackupClient } from '@aws-sdk/client-backup';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { AppConfig } from '../config/app.config';

/** The settings every client gets; each SDK client's own config type accepts them. */
export interface AwsClientSettings {
  region: string;
  /** 1 for the clients that send mutating calls: the SDK never repeats a change blindly. */
  maxAttempts: number;
  /** Lower case: the SDK compares it to 'adaptive' exactly and quietly falls back to standard otherwise. */
  retryMode: 'adaptive';
  /**
   * Connect and request timeouts for every call. `throwOnRequestTimeout` is required: without it
   * the SDK only logs a warning when the request timeout passes and keeps waiting.
   */
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
  credentials?: ReturnType<typeof fromTemporaryCredentials>;
  endpoint?: string;
}

/** Which of a target's two clients: reads retry adaptively; mutations are sent once per attempt the engine decides. */
export type CallKind = 'read' | 'mutate';

export interface DestroyableClient {
  destroy(): void;
}

export type AwsClientConstructor<C extends DestroyableClient> = new (settings: AwsClientSettings) => C;

export const RUNBOOKD_ROLE_SESSION_NAME = 'runbookd';

type TemporaryCredentials = ReturnType<typeof fromTemporaryCredentials>;
type Credentials = Awaited<ReturnType<TemporaryCredentials>>;

/**
 * Each SDK client memoizes its credentials on its own; a target's two clients (read, mutate)
 * share one session instead, assumed once and renewed five minutes before it expires.
 */
function sharedUntilExpiry(provider: TemporaryCredentials): TemporaryCredentials {
  let current: Promise<Credentials> | undefined;
  let expiresAt = 0;
  return async (options?: Parameters<TemporaryCredentials>[0]) => {
    if (!current || Date.now() > expiresAt - 5 * 60_000) {
      const next = provider(options);
      current = next;
      // Until it answers, callers share the request in flight.
      expiresAt = Number.MAX_SAFE_INTEGER;
      next
        .then((c) => (expiresAt = c.expiration?.getTime() ?? Number.MAX_SAFE_INTEGER))
        .catch(() => {
          if (current === next) current = undefined;
        });
    }
    return current;
  };
}

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
 * One SDK client per (service, region, role, call kind), made on first use and kept: clients hold
 * connection pools, credential caches and the adaptive retry token bucket, which only help when
 * shared. Mutating calls go through a client of their own with `maxAttempts: 1`: after a timeout
 * or a 5xx the SDK cannot know whether AWS acted, so the step looks before it tries again. Endpoints are not set here: the SDK reads AWS_ENDPOINT_URL and
 * AWS_ENDPOINT_URL_<SERVICE> itself (that is how tests and the sandbox reach moto).
 */
@Injectable()
export class AwsClientFactory implements OnModuleDestroy {
  private readonly clients = new Map<string, DestroyableClient>();
  /** One assumed-role session per (region, role), shared by a target's read and mutate clients. */
  private readonly roleCredentials = new Map<string, TemporaryCredentials>();

  constructor(private readonly config: AppConfig) {}

  rds(region?: string, roleArn?: string, kind: CallKind = 'read'): RDSClient {
    return this.client('rds', RDSClient, region, roleArn, kind);
  }

  cloudwatch(region?: string, roleArn?: string, kind: CallKind = 'read'): CloudWatchClient {
    return this.client('cloudwatch', CloudWatchClient, region, roleArn, kind);
  }

  ecs(region?: string, roleArn?: string, kind: CallKind = 'read'): ECSClient {
    return this.client('ecs', ECSClient, region, roleArn, kind);
  }

  sns(region?: string, roleArn?: string, kind: CallKind = 'read'): SNSClient {
    return this.client('sns', SNSClient, region, roleArn, kind);
  }

  backup(region?: string, roleArn?: string, kind: CallKind = 'read'): BackupClient {
    return this.client('backup', BackupClient, region, roleArn, kind);
  }

  /** Service name as the SDK's endpoint variable spells it: AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API. */
  tagging(region?: string, roleArn?: string): ResourceGroupsTaggingAPIClient {
    return this.client('resource_groups_tagging_api', ResourceGroupsTaggingAPIClient, region, roleArn, 'read');
  }

  sts(region?: string, roleArn?: string): STSClient {
    return this.client('sts', STSClient, region, roleArn, 'read');
  }

  /** The extension point: a new service is `xyz(r, role, kind) { return this.client('xyz', XyzClient, r, role, kind); }`. */
  client<C extends DestroyableClient>(service: string, Client: AwsClientConstructor<C>, region?: string, roleArn?: string, kind: CallKind = 'read'): C {
    const resolvedRegion = region || this.config.aws.region;
    // A role session is named after its run, so role clients belong to one run; calls without a
    // role share one client per service, region and call kind. Read and mutate clients of one run
    // share one session (credentialsFor).
    const session = roleArn ? awsSessionScope.getStore() : undefined;
    const key = `${service}\u0000${resolvedRegion}\u0000${roleArn ?? ''}\u0000${session?.runId ?? ''}\u0000${kind}`;
    const cached = this.clients.get(key);
    if (cached) return cached as C;
    const client = new Client(this.settings(resolvedRegion, roleArn, service, kind, session));
    if (session?.runId) this.evictOldSessionClients();
    this.clients.set(key, client);
    return client;
  }

  settings(region: string, roleArn?: string, service?: string, kind: CallKind = 'read', session?: AwsSession): AwsClientSettings {
    const settings: AwsClientSettings = {
      region,
      maxAttempts: kind === 'mutate' ? 1 : this.config.aws.maxAttempts,
      retryMode: 'adaptive',
      requestHandler: { connectionTimeout: this.config.aws.connectTimeoutMs, requestTimeout: this.config.aws.requestTimeoutMs, throwOnRequestTimeout: true },
    };
    // Sandbox endpoints come from the validated config (the SDK would also read them from the
    // environment itself, but then two places would decide where AWS calls go).
    const endpoint = this.endpointFor(service);
    if (endpoint) settings.endpoint = endpoint;
    if (roleArn) settings.credentials = this.credentialsFor(region, roleArn, settings.requestHandler, session);
    return settings;
  }

  private credentialsFor(region: string, roleArn: string, requestHandler: AwsClientSettings['requestHandler'], session?: AwsSession): TemporaryCredentials {
    const key = `${region}\u0000${roleArn}\u0000${session?.runId ?? ''}\u0000${session?.actor ?? ''}`;
    let credentials = this.roleCredentials.get(key);
    if (!credentials) {
      const stsEndpoint = this.endpointFor('sts');
      credentials = sharedUntilExpiry(
        fromTemporaryCredentials({
          params: {
            RoleArn: roleArn,
            RoleSessionName: session?.runId ? `${RUNBOOKD_ROLE_SESSION_NAME}-${session.runId}` : RUNBOOKD_ROLE_SESSION_NAME,
            ...(session?.actor ? { SourceIdentity: sourceIdentity(session.actor) } : {}),
          },
          clientConfig: {
            region,
            maxAttempts: this.config.aws.maxAttempts,
            retryMode: 'adaptive',
            requestHandler,
            ...(stsEndpoint ? { endpoint: stsEndpoint } : {}),
          },
        }),
      );
      this.roleCredentials.set(key, credentials);
      // Sessions of old runs are forgotten with their clients (below), oldest first.
      if (this.roleCredentials.size > MAX_SESSION_CLIENTS) this.roleCredentials.delete(this.roleCredentials.keys().next().value!);
    }
    return credentials;
  }

  /** Closes the oldest per-run role clients past MAX_SESSION_CLIENTS (a Map keeps insertion order). */
  private evictOldSessionClients(): void {
    const perRun = [...this.clients.keys()].filter((k) => k.split('\u0000')[3] !== '');
    for (const k of perRun.slice(0, Math.max(0, perRun.length - MAX_SESSION_CLIENTS + 1))) {
      this.clients.get(k)?.destroy();
      this.clients.delete(k);
    }
  }

  private endpointFor(service: string | undefined): string | undefined {
    const endpoints = this.config.aws.endpoints ?? {};
    return (service && endpoints[`AWS_ENDPOINT_URL_${service.toUpperCase()}`]) || endpoints.AWS_ENDPOINT_URL;
  }

  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
    this.roleCredentials.clear();
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
  const s = actor
    .replace(/:/g, '=')
    .replace(/[^\w+=,.@-]/g, '_')
    .slice(0, 64);
  return s.length >= 2 ? s : `${s}__`.slice(0, 2);
}
