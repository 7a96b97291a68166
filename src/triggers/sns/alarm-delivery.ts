import type { SnsMessage } from './sns-message';

/**
 * One alarm notification as the alarm handling needs it, whichever way it came: a signed SNS
 * Notification, or a CloudWatch event an EventBridge API destination posted with the
 * connection's key (`via: 'eventbridge'`, MessageId `eventbridge:<event id>`, TopicArn
 * EVENTBRIDGE_TOPIC). Both go through the same confirmation at CloudWatch, routing and
 * deduplication: a change to that path (say, confirming off the request) applies to both.
 */
export type AlarmDelivery = Pick<SnsMessage, 'Type' | 'MessageId' | 'TopicArn' | 'Message' | 'Timestamp'> & { via?: 'sns' | 'eventbridge' };

/** What stands for the topic of an alarm that came from EventBridge: a trigger naming a topicArn matches SNS from that topic only. */
export const EVENTBRIDGE_TOPIC = 'eventbridge';
