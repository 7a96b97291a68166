import { Injectable } from '@nestjs/common';
import { ConfirmSubscriptionCommand, type ConfirmSubscriptionCommandOutput, PublishCommand, type PublishCommandOutput } from '@aws-sdk/client-sns';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';

export const SNS_SERVICE = 'sns';

export interface PublishParams {
  topicArn: string;
  /** At most 100 characters (SNS refuses longer); e-mail subscribers see it as the subject. */
  subject?: string;
  message: string;
}

export interface ConfirmSubscriptionParams {
  topicArn: string;
  token: string;
}

/** SNS calls runbookd makes. The webhook confirms subscriptions; notification steps publish. */
@Injectable()
export class SnsAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = caller.forService(SNS_SERVICE, (region, roleArn, kind) => clients.sns(region, roleArn, kind));
  }

  planConfirmSubscription(target: AwsTarget, p: ConfirmSubscriptionParams): PlannedCall {
    // The token is a credential for the subscription: never planned or recorded in the clear.
    return this.calls.plan(target, 'ConfirmSubscription', { TopicArn: p.topicArn, Token: '[REDACTED]' });
  }

  /**
   * Confirms through the API (TopicArn + Token) rather than by fetching SubscribeURL: the URL is
   * whatever the message says, the API endpoint is ours.
   */
  async confirmSubscription(ctx: AwsCallContext, target: AwsTarget, p: ConfirmSubscriptionParams): Promise<{ subscriptionArn: string | null }> {
    const out = await this.calls.mutate<ConfirmSubscriptionCommandOutput>(
      { ...ctx, secretValues: [...(ctx.secretValues ?? []), p.token] },
      target,
      'ConfirmSubscription',
      new ConfirmSubscriptionCommand({ TopicArn: p.topicArn, Token: p.token }),
    );
    return { subscriptionArn: out.SubscriptionArn ?? null };
  }

  /** Publishes a message to a topic (run notifications). The region is the topic's own. */
  async publish(ctx: AwsCallContext, p: PublishParams): Promise<{ messageId: string | null }> {
    const out = await this.calls.mutate<PublishCommandOutput>(
      ctx,
      regionOfTopic(p.topicArn),
      'Publish',
      new PublishCommand({ TopicArn: p.topicArn, Message: p.message, ...(p.subject ? { Subject: p.subject.slice(0, 100) } : {}) }),
    );
    return { messageId: out.MessageId ?? null };
  }
}

/** arn:aws:sns:<region>:<account>:<name> → region. */
export function regionOfTopic(topicArn: string): string {
  return topicArn.split(':')[3] ?? '';
}
