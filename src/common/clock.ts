import { Injectable } from '@nestjs/common';

/** Time is a side effect: measured figures (switch time, RTO) come from here so tests can steer it. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
  nowMs(): number {
    return Date.now();
  }
}
