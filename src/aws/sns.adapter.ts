import { Injectable } from '@nestjs/common';
import { ConfirmSubscriptionCommand, type ConfirmSubscriptionCommandOutput } from '@aws-sdk/client-sns';
import type { AwsCallContext, PlannedCall } from '../engine/step.contract';
import { AwsCallerService } from './aws-caller.service';
import { AwsClientFactory, resolveTarget, type AwsTarget } from './aws-client.factory';

export const SNS_SERVICE = 'sns';

export interface ConfirmSubscriptionParams {
  topicArn: string;
  token: string;
}

/** SNS calls runbookd makes. The webhook confirms subscriptions; notification steps publish. */
@Injectable()
export class SnsAdapter {
  constructor(
    private readonly clients: AwsClientFactory,
    private readonly caller: AwsCallerService,
  ) {}

  planConfirmSubscription(target: AwsTarget, p: ConfirmSubscriptionParams): PlannedCall {
    // The token is a credential for the subscription: never planned or recorded in the clear.
    return { service: SNS_SERVICE, operation: 'ConfirmSubscription', input: { TopicArn: p.topicArn, Token: '[REDACTED]' }, region: resolveTarget(target).region };
  }

  /**
   * Confirms through the API (TopicArn + Token) rather than by fetching SubscribeURL: the URL is
   * whatever the message says, the API endpoint is ours.
   */
  async confirmSubscription(ctx: AwsCallContext, target: AwsTarget, p: ConfirmSubscriptionParams): Promise<{ subscriptionArn: string | null }> {
    const { region, roleArn } = resolveTarget(target);
    const out = await this.caller.send<ConfirmSubscriptionCommandOutput>(
      { ...ctx, secretValues: [...(ctx.secretValues ?? []), p.token] },
      this.clients.sns(region, roleArn),
      new ConfirmSubscriptionCommand({ TopicArn: p.topicArn, Token: p.token }),
      { service: SNS_SERVICE, operation: 'ConfirmSubscription', mutates: true, region },
    );
    return { subscriptionArn: out.SubscriptionArn ?? null };
  }
}
