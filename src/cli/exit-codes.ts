/**
 * The CLI's exit codes. Scripts and CI jobs branch on them, so they tell outcomes apart rather
 * than collapsing every non-success into 1; 64, 69 and 77 are the BSD sysexits codes for the
 * same situations (EX_USAGE, EX_UNAVAILABLE, EX_NOPERM). Documented in README ("The runbookd CLI").
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  aborted: 2,
  cancelled: 3,
  rejected: 4,
  stillRunning: 5,
  usage: 64,
  unreachable: 69,
  notAuthorised: 77,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** How a run's final state reads as an exit code; undefined while the run is still going. */
export function exitCodeForState(state: string): ExitCode | undefined {
  switch (state) {
    case 'succeeded':
      return EXIT.ok;
    case 'failed':
      return EXIT.failed;
    case 'aborted':
      return EXIT.aborted;
    case 'cancelled':
      return EXIT.cancelled;
    case 'rejected':
      return EXIT.rejected;
    default:
      return undefined;
  }
}

export const FINAL_STATES: readonly string[] = ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'];
