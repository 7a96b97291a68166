/**
 * AWS calls made, by operation (`ListServices: 3`). A report that costs money states what it
 * called; adapters count each request they send (each page of a paginated read) into one of these.
 */
export type CallTally = Record<string, number>;

export function countCall(tally: CallTally | undefined, operation: string, n = 1): void {
  if (tally) tally[operation] = (tally[operation] ?? 0) + n;
}

export function mergeTallies(...tallies: ReadonlyArray<CallTally | undefined>): CallTally {
  const out: CallTally = {};
  for (const t of tallies) for (const [op, n] of Object.entries(t ?? {})) if (typeof n === 'number') countCall(out, op, n);
  return out;
}
