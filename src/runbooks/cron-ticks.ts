import { CronExpressionParser } from 'cron-parser';

/**
 * Tick arithmetic for schedule patterns, with the same parser (and so the same reading of a
 * pattern and time zone) that BullMQ's job schedulers use to fire them.
 */

/** Ticks strictly after `after` and at or before `upTo`, oldest first; at most `limit` (the newest are kept). */
export function ticksBetween(pattern: string, tz: string, after: Date, upTo: Date, limit = 10_000): Date[] {
  if (upTo.getTime() <= after.getTime()) return [];
  const it = CronExpressionParser.parse(pattern, { currentDate: after, endDate: upTo, tz });
  const out: Date[] = [];
  while (it.hasNext()) {
    const d = it.next().toDate();
    if (d.getTime() <= after.getTime()) continue;
    out.push(d);
    // A schedule down for months at one tick per second must not fill memory: only the newest matter.
    if (out.length > limit) out.shift();
  }
  return out;
}

/** The first tick after `from`. */
export function nextTick(pattern: string, tz: string, from: Date): Date {
  return CronExpressionParser.parse(pattern, { currentDate: from, tz }).next().toDate();
}

/** Null when the pattern and time zone are usable, else why not. */
export function cronProblem(pattern: string, tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    return `time zone "${tz}" is not an IANA time zone (e.g. UTC, Europe/Berlin)`;
  }
  try {
    nextTick(pattern, tz, new Date());
    return null;
  } catch (err) {
    return `cron pattern "${pattern}": ${(err as Error).message}`;
  }
}
