import { Injectable } from '@nestjs/common';
import type { AwsCallContext } from '../aws/aws-call.types';
import { AwsTarget, resolveTarget } from '../aws/aws-client.factory';
import { AlarmReaderService } from '../aws/alarm-reader.service';
import type { AlarmStates } from '../aws/cloudwatch.adapter';
import { EngineError } from './engine.error';

/**
 * Guard alarms: a run stops as `aborted` when any is in ALARM. It fails closed: an alarm that
 * does not exist or cannot be read aborts too, because a guard that cannot be checked guards nothing.
 */
@Injectable()
export class StopConditionsService {
  constructor(private readonly alarms: AlarmReaderService) {}

  /** Returns the error to abort with, or null when every guard alarm is quiet. */
  async check(ctx: AwsCallContext, target: AwsTarget, alarmNames: string[]): Promise<EngineError | null> {
    if (alarmNames.length === 0) return null;
    let result: AlarmStates;
    try {
      // A reading taken after this check began: batched with other runs' guard checks and alarm waits.
      result = await this.alarms.states(ctx, target, alarmNames);
    } catch (err) {
      return new EngineError('STOP_CONDITION_CHECK_FAILED', `could not read guard alarms: ${(err as Error).message}`, { alarms: alarmNames });
    }
    if (result.missing.length > 0) {
      return new EngineError('STOP_CONDITION_CHECK_FAILED', `guard alarm(s) not found in ${resolveTarget(target).region}: ${result.missing.join(', ')}`, {
        missing: result.missing,
      });
    }
    const firing = result.alarms.filter((a) => a.state === 'ALARM');
    if (firing.length === 0) return null;
    return new EngineError('STOP_CONDITION', `stopped: guard alarm ${firing.map((a) => a.name).join(', ')} is in ALARM`, {
      alarms: firing.map((a) => ({ name: a.name, reason: a.reason, since: a.updatedAt })),
    });
  }
}
