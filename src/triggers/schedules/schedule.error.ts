import { CodedError } from '../../common/coded-error';

export type ScheduleErrorCode = 'SCHEDULE_NOT_FOUND';

export class ScheduleError extends CodedError<ScheduleErrorCode> {
  readonly area = 'schedule';
}
