import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StepRegistry } from '../../src/steps/step-registry';
import type { StepType } from '../../src/steps/step.contract';
import { loadRunbooks } from '../../src/runbooks/runbook-loader';
import { RunbookError, type DefinitionProblem } from '../../src/runbooks/runbook.error';
import { STEP_CLASSES } from '../../src/steps/step-catalog';
import { cronProblem, nextTick, ticksBetween } from '../../src/runbooks/cron-ticks';
import { tickMillis } from '../../src/triggers/schedules/schedule-worker.service';

const ROOT = path.resolve(__dirname, '..', '..');
const fake = (uses: string, outputs: string[]): StepType => ({
  uses,
  description: uses,
  mutates: false,
  input: { type: 'object' },
  outputs,
  run: async () => ({ kind: 'done', output: {} }),
});
const registry = new StepRegistry([fake('core.noop', ['echo']), fake('runbook.run', ['childRunId'])]);

describe('cron ticks', () => {
  it("lists the ticks after one instant up to another, oldest first, in the pattern's time zone", () => {
    expect(ticksBetween('0 3 1 * *', 'UTC', new Date('2026-01-15T00:00:00Z'), new Date('2026-04-01T03:00:00Z')).map((d) => d.toISOString())).toEqual([
      '2026-02-01T03:00:00.000Z',
      '2026-03-01T03:00:00.000Z',
      '2026-04-01T03:00:00.000Z',
    ]);
    // 03:00 in Berlin is 01:00 UTC in winter and 02:00 UTC in summer.
    expect(ticksBetween('0 3 1 * *', 'Europe/Berlin', new Date('2026-02-15T00:00:00Z'), new Date('2026-04-02T00:00:00Z')).map((d) => d.toISOString())).toEqual([
      '2026-03-01T02:00:00.000Z',
      '2026-04-01T01:00:00.000Z',
    ]);
    // "after" is exclusive: the tick last decided is not missed again.
    expect(ticksBetween('* * * * * *', 'UTC', new Date('2026-01-01T00:00:01Z'), new Date('2026-01-01T00:00:03Z'))).toHaveLength(2);
    expect(ticksBetween('* * * * * *', 'UTC', new Date('2026-01-01T00:00:05Z'), new Date('2026-01-01T00:00:05Z'))).toEqual([]);
  });

  it('keeps only the newest ticks of a long outage', () => {
    const ticks = ticksBetween('* * * * * *', 'UTC', new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T01:00:00Z'), 5);
    expect(ticks.map((d) => d.toISOString())).toEqual([
      '2026-01-01T00:59:56.000Z',
      '2026-01-01T00:59:57.000Z',
      '2026-01-01T00:59:58.000Z',
      '2026-01-01T00:59:59.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
  });

  it('says what is wrong with a pattern or a time zone', () => {
    expect(cronProblem('0 3 1 * *', 'UTC')).toBeNull();
    expect(cronProblem('0 3 1 * *', 'Mars/Olympus')).toMatch(/time zone "Mars\/Olympus" is not an IANA time zone/);
    expect(cronProblem('every day', 'UTC')).toMatch(/^cron pattern "every day"/);
    expect(nextTick('0 3 1 * *', 'UTC', new Date('2026-11-22T17:00:00Z')).toISOString()).toBe('2026-12-01T03:00:00.000Z');
  });

  it('reads the tick a job stands for from the job, not the clock', () => {
    expect(tickMillis({ id: 'repeat:monthly-dr-drill.monthly:1764558000000', opts: {}, timestamp: 1, delay: 0 })).toBe(1764558000000);
    expect(tickMillis({ id: 'other', opts: { prevMillis: 1764558000000 } as any, timestamp: 1, delay: 0 })).toBe(1764558000000);
  });
});

describe('runbook loader: schedules and composite steps', () => {
  let dir: string;
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text);
  const problemsOf = (fn: () => unknown): DefinitionProblem[] => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RunbookError);
      return (err as RunbookError).details.problems as DefinitionProblem[];
    }
    throw new Error('expected the load to fail');
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-schedules-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a bad cron pattern, an unknown time zone and a schedule id used twice, naming each', () => {
    write(
      'ticks.yaml',
      `id: ticks
title: Ticks
triggers:
  - schedule: { id: a, cron: "not a cron", timezone: UTC }
  - schedule: { id: a, cron: "0 3 1 * *", timezone: Mars/Olympus }
  - schedule: { cron: "0 3 1 * *", catchUp: "0s" }
  - schedule: { cron: "0 3 1 * *" }
steps:
  - { id: one, uses: core.noop }
`,
    );
    const problems = problemsOf(() => loadRunbooks(dir, registry));
    // Two schedules without ids are told apart by position (schedule-2, schedule-3): no clash.
    expect(problems.map((p) => p.path)).toEqual(['triggers[0].schedule', 'triggers[1].schedule', 'triggers[1].schedule.id']);
    expect(problems[0].reason).toMatch(/^cron pattern "not a cron": /);
    expect(problems[1].reason).toBe('time zone "Mars/Olympus" is not an IANA time zone (e.g. UTC, Europe/Berlin)');
    expect(problems[2].reason).toBe('schedule id "a" is used twice in this runbook');
  });

  it('refuses a composite step naming a runbook that is not loaded', () => {
    write('parent.yaml', 'id: parent\ntitle: Parent\nsteps:\n  - { id: child, uses: runbook.run, with: { runbook: no-such-runbook } }\n');
    const problems = problemsOf(() => loadRunbooks(dir, registry));
    expect(problems).toEqual([
      expect.objectContaining({ path: 'steps.child.with.runbook', reason: expect.stringContaining('no runbook "no-such-runbook" is loaded') }),
    ]);
  });

  it('loads the bundled runbooks, the drill with its monthly schedule among them', () => {
    const loaded = loadRunbooks(path.join(ROOT, 'runbooks'), new StepRegistry(STEP_CLASSES.map((C) => new (C as any)())));
    const drill = loaded.find((l) => l.definition.id === 'monthly-dr-drill')!.definition;
    expect(drill.triggers).toContainEqual({ schedule: expect.objectContaining({ id: 'monthly', cron: '0 3 1 * *', timezone: 'UTC' }) });
    expect(drill.steps.map((s) => [s.uses, s.with.runbook])).toEqual([
      ['runbook.run', 'backup-verification'],
      ['runbook.run', 'point-in-time-restore'],
      ['runbook.run', 'failover-test'],
    ]);
    expect(drill.cleanup.map((s) => s.uses)).toEqual(['drill.evaluate-objectives']);
  });
});
