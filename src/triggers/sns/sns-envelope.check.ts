import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app.config';
import { AlarmRouter } from './alarm-router.service';
import { parseSnsMessage, SnsMessage } from './sns-message';
import { clip } from './sns-message-recorder.service';
import { checkSigningCertUrl, SnsSignatureVerifier } from './sns-signature.verifier';
import { SnsError } from './sns.error';
import { SnsRefusalSampler } from './sns-refusal-sampler.service';

/** A message may be a little ahead of our clock; more than this is as suspicious as an old one. */
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Whether a post is a message from SNS at all: the envelope, the cert URL (before any fetch), the
 * topic, the age and the signature. A refusal is counted and sampled by source (SnsRefusalSampler),
 * never one audit append per post, since anyone can send one.
 */
@Injectable()
export class SnsEnvelopeCheck {
  constructor(
    private readonly verifier: SnsSignatureVerifier,
    private readonly router: AlarmRouter,
    private readonly refusals: SnsRefusalSampler,
    private readonly config: AppConfig,
  ) {}

  async check(body: unknown, headers: Record<string, string | string[] | undefined>, source: string, receivedAt: Date): Promise<SnsMessage> {
    let m: SnsMessage | null = null;
    try {
      m = parseSnsMessage(body, headers);
      checkSigningCertUrl(m.SigningCertURL);
      if (!this.router.acceptsTopic(m.TopicArn)) {
        throw new SnsError('SNS_TOPIC_NOT_ACCEPTED', `topic ${m.TopicArn} is named by no runbook alarm trigger and not in RUNBOOKD_SNS_TOPICS`, {
          topicArn: m.TopicArn,
        });
      }
      const age = receivedAt.getTime() - Date.parse(m.Timestamp);
      if (age > this.config.sns.maxMessageAgeSeconds * 1000 || age < -FUTURE_SKEW_MS) {
        throw new SnsError('SNS_MESSAGE_STALE', `message timestamp ${m.Timestamp} is outside the ${this.config.sns.maxMessageAgeSeconds}s freshness window`, {
          timestamp: m.Timestamp,
        });
      }
      await this.verifier.verify(m);
    } catch (err) {
      // Not yet proven to come from SNS: counted and sampled, never one locked audit append per post.
      if (err instanceof SnsError) {
        await this.refusals.refused(
          source,
          err.code,
          clip({ code: err.code, reason: err.message, type: m?.Type ?? null, messageId: m?.MessageId ?? null, topicArn: m?.TopicArn ?? null }) as Record<
            string,
            unknown
          >,
        );
      }
      throw err;
    }

    return m;
  }
}
