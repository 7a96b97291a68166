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
    const key = `${service}\u0000${resolvedRegion}\u0000${roleArn ?? ''}`;
    const cached = this.clients.get(key);
    if (cached) return cached as C;
    const client = new Client(this.settings(resolvedRegion, roleArn, service));
    this.clients.set(key, client);
    return client;
  }

  settings(region: string, roleArn?: string, service?: string): AwsClientSettings {
    const settings: AwsClientSettings = { region, maxAttempts: this.config.awsMaxAttempts, retryMode: 'adaptive' };
    // Sandbox endpoints come from the validated config (the SDK would also read them from the
    // environment itself, but then two places would decide where AWS calls go).
    const endpoint = this.endpointFor(service);
    if (endpoint) settings.endpoint = endpoint;
    if (roleArn) {
      const stsEndpoint = this.endpointFor('sts');
      settings.credentials = fromTemporaryCredentials({
        params: { RoleArn: roleArn, RoleSessionName: RUNBOOKD_ROLE_SESSION_NAME },
        clientConfig: { region, maxAttempts: this.config.awsMaxAttempts, retryMode: 'adaptive', ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) },
      });
    }
    return settings;
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
