import { randomBytes } from 'node:crypto';

/**
 * Run ids sort by creation time and are valid inside AWS resource names (RDS identifiers:
 * lower-case letters, digits, single hyphens, starting with a letter, at most 63 characters),
 * because resources a run creates are named after it.
 */
export function newRunId(now = Date.now()): string {
  const time = now.toString(36).padStart(9, '0');
  const rand = [...randomBytes(8)].map((b) => (b % 36).toString(36)).join('');
  return `r${time}${rand}`;
}
