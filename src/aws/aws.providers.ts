import type { Provider } from '@nestjs/common';
import { AlarmReaderService } from './alarm-reader.service';
import { AwsCallerService } from './aws-caller.service';
import { AwsClientFactory } from './aws-client.factory';
import { BackupAdapter } from './backup.adapter';
import { CloudWatchAdapter } from './cloudwatch.adapter';
import { EcsAdapter } from './ecs.adapter';
import { GenericAwsAdapter } from './generic.adapter';
import { RdsEstateAdapter } from './rds-estate.adapter';
import { RdsFailoverAdapter } from './rds-failover.adapter';
import { RdsLeftoversAdapter } from './rds-leftovers.adapter';
import { RdsRestoreAdapter } from './rds-restore.adapter';
import { ResilienceEstateAdapter } from './resilience-estate.adapter';
import { SnsAdapter } from './sns.adapter';
import { TaggingAdapter } from './tagging.adapter';

/**
 * Everything `src/aws/` provides, for the shared infrastructure module to list. Needs AppConfig
 * and AuditService provided alongside (and Clock, for AlarmReaderService). A new adapter is added here and in the factory.
 */
export const AWS_PROVIDERS: Provider[] = [
  AwsClientFactory,
  AwsCallerService,
  RdsFailoverAdapter,
  RdsRestoreAdapter,
  RdsEstateAdapter,
  CloudWatchAdapter,
  AlarmReaderService,
  BackupAdapter,
  EcsAdapter,
  SnsAdapter,
  GenericAwsAdapter,
  RdsLeftoversAdapter,
  TaggingAdapter,
  ResilienceEstateAdapter,
];
