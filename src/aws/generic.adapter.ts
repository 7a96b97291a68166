import { Injectable } from '@nestjs/common';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import { awsService, type AwsServiceEntry } from './aws-services';
import { AwsStepError } from './aws.error';

/**
 * Any API of any client in the registry (`aws-services.ts`), through the same door as every
 * adapter (AwsServiceCalls): reads sent as they are, mutations audited before and after and
 * refused in a dry run, plans built from the exact input a run would send.
 */
@Injectable()
export class GenericAwsAdapter {
  private readonly calls = new Map<string, AwsServiceCalls>();

  constructor(
    private readonly caller: AwsCallerService,
    private readonly factory: AwsClientFactory,
  ) {}

  call<O = Record<string, unknown>>(
    ctx: AwsCallContext,
    target: AwsTarget,
    service: string,
    api: string,
    input: Record<string, unknown>,
    mutates: boolean,
  ): Promise<O> {
    const { entry, Command } = this.resolve(service, api);
    const calls = this.callsFor(entry);
    const command = new Command(input);
    return mutates ? calls.mutate<O>(ctx, target, api, command) : calls.read<O>(ctx, target, api, command);
  }

  plan(target: AwsTarget, service: string, api: string, input: Record<string, unknown>): PlannedCall {
    const { entry } = this.resolve(service, api);
    return this.callsFor(entry).plan(target, api, input);
  }

  private resolve(service: string, api: string) {
    const entry = awsService(service);
    const Command = entry?.apis.get(api);
    // The loader checks both at boot; reaching here means a definition changed under a running run.
    if (!entry || !Command) throw new AwsStepError('AWS_INVALID_INPUT', `${service}:${api} is not an API runbookd ships`, { service, operation: api });
    return { entry, Command };
  }

  private callsFor(entry: AwsServiceEntry): AwsServiceCalls {
    let calls = this.calls.get(entry.name);
    if (!calls) {
      calls = this.caller.forService(entry.name, (region, roleArn, kind) => this.factory.client(entry.name, entry.Client, region, roleArn, kind));
      this.calls.set(entry.name, calls);
    }
    return calls;
  }
}
