import { nodeRelease, nodeReleaseLogLine } from '../../src/common/node-release';

/**
 * The boot line an operator reads to learn whether runbookd runs on a Node.js that still gets
 * security fixes: Node 20 ended on 2026-04-30, 22 and 24 are the production lines.
 */
describe('node release end of life', () => {
  const on = (day: string) => new Date(`${day}T12:00:00Z`);

  it('Node 20 is supported the day before its end of life and ended from that day on', () => {
    expect(nodeRelease('v20.19.0', on('2026-04-29'))).toMatchObject({ major: 20, endOfLife: '2026-04-30', ended: false });
    expect(nodeRelease('v20.19.0', new Date('2026-04-30T00:00:00Z')).ended).toBe(true);
    expect(nodeRelease('v20.20.2', on('2026-12-01')).ended).toBe(true);
  });

  it('the production lines 22 and 24 are supported now, and 22 ends a year before 24', () => {
    expect(nodeRelease('v22.12.0', on('2026-12-01'))).toMatchObject({ endOfLife: '2027-04-30', ended: false });
    expect(nodeRelease('v24.22.3', on('2026-12-01'))).toMatchObject({ endOfLife: '2028-04-30', ended: false });
    expect(nodeRelease('v22.12.0', on('2027-04-30')).ended).toBe(true);
    expect(nodeRelease('v24.22.3', on('2027-04-30')).ended).toBe(false);
  });

  it("an odd (short-lived) major ends on its own date, not its LTS neighbour's", () => {
    expect(nodeRelease('v25.0.0', on('2026-06-01')).ended).toBe(true);
    expect(nodeRelease('v26.1.0', on('2026-06-01')).ended).toBe(false);
  });

  it('a major older than the table is ended; one newer is not called ended', () => {
    expect(nodeRelease('v16.20.2', on('2020-01-01'))).toMatchObject({ major: 16, ended: true, endOfLife: undefined });
    expect(nodeRelease('v27.0.0', on('2026-12-01'))).toMatchObject({ major: 27, ended: false, endOfLife: undefined });
  });

  it('the boot line warns on an ended release, naming version, date and what to run instead', () => {
    const line = nodeReleaseLogLine(nodeRelease('v20.20.2', on('2026-12-01')));
    expect(line.level).toBe('warn');
    expect(line.message).toContain('v20.20.2');
    expect(line.message).toContain('2026-04-30');
    expect(line.message).toMatch(/22 or 24/);
  });

  it('the boot line on a supported release is informational and names its end date', () => {
    expect(nodeReleaseLogLine(nodeRelease('v24.22.3', on('2026-12-01')))).toEqual({ level: 'log', message: 'Node.js v24.22.3 (supported until 2028-04-30)' });
    expect(nodeReleaseLogLine(nodeRelease('v27.0.0', on('2026-12-01'))).level).toBe('log');
  });

  it('refuses what is not a version rather than guessing', () => {
    expect(() => nodeRelease('lts/jod', on('2026-12-01'))).toThrow(/not a Node.js version/);
  });
});
