/**
 * Which Node.js release lines still get security fixes, so boot can say when runbookd runs on
 * one that no longer does (the quick start still works on Node 20, whose support ended on
 * 2026-04-30; production belongs on 22 or 24). Dates: the Node.js release schedule
 * (nodejs.org/en/about/previous-releases). Add a line here when Node ships a new major.
 */
const END_OF_LIFE: Readonly<Record<number, string>> = {
  18: '2025-04-30',
  19: '2023-06-01',
  20: '2026-04-30',
  21: '2024-06-01',
  22: '2027-04-30',
  23: '2025-06-01',
  24: '2028-04-30',
  25: '2026-06-01',
  26: '2029-04-30',
};
const OLDEST_LISTED = Math.min(...Object.keys(END_OF_LIFE).map(Number));

export interface NodeRelease {
  /** As Node prints it: v24.22.3. */
  version: string;
  major: number;
  /** YYYY-MM-DD, the first day without security fixes; unknown for majors newer than the table. */
  endOfLife?: string;
  /** endOfLife is today or past; majors older than the table are end-of-life too. */
  ended: boolean;
}

export function nodeRelease(version: string, today: Date): NodeRelease {
  const m = /^v?(\d+)\.\d+\.\d+/.exec(version);
  if (!m) throw new Error(`not a Node.js version: ${JSON.stringify(version)}`);
  const major = Number(m[1]);
  const endOfLife = END_OF_LIFE[major];
  const day = today.toISOString().slice(0, 10);
  const ended = endOfLife ? day >= endOfLife : major < OLDEST_LISTED;
  return { version: version.startsWith('v') ? version : `v${version}`, major, endOfLife, ended };
}

/** The boot line: the runtime, and a warning when it gets no more security fixes. */
export function nodeReleaseLogLine(r: NodeRelease): { level: 'log' | 'warn'; message: string } {
  if (r.ended) {
    const since = r.endOfLife ? ` on ${r.endOfLife}` : '';
    return {
      level: 'warn',
      message: `Node.js ${r.version} reached end of life${since} and gets no security fixes: run runbookd on Node.js 22 or 24 in production`,
    };
  }
  const until = r.endOfLife ? `supported until ${r.endOfLife}` : 'newer than this build knows; runbookd is tested on Node.js 24';
  return { level: 'log', message: `Node.js ${r.version} (${until})` };
}
