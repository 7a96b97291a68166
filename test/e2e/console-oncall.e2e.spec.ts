import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { Client } from 'pg';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium, seriousAxeViolations } from '../support/browser';
import { eventually, Harness, ROOT } from '../support/runbookd';

/**
 * The console as an on-call engineer meets it (issue 22), in Debian's Chromium against the real
 * service (PostgreSQL, Redis, moto): every shipped runbook planned and started from its form,
 * the point-in-time restore's checkbox, a failed plan that asks before it runs, one clock with
 * zones, shareable filters, phones at 360 px, the approver's plan without skipped steps, the
 * schedule in words with a reason to pause, a session that expires mid-form, and axe in light
 * and dark. Also the API answers the console relies on, checked against the OpenAPI document.
 */
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts', 'console-oncall');
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

/** Values that fit the sandbox estate, per shipped runbook (a parameter not named keeps its default). */
const FORM_VALUES: Record<string, Record<string, string | boolean>> = {
  'backup-verification': { dbInstanceIdentifier: 'billing-postgres', pollSeconds: '0.2' },
  'canary-rollback': { cluster: 'retail', service: 'api' },
  'capacity-report': { lookbackDays: '1' },
  'ecs-deploy-with-target-health': { cluster: 'retail', service: 'api' },
  'ecs-force-new-deployment': { cluster: 'retail', service: 'api' },
  'ecs-mark-known-good': { cluster: 'retail', service: 'api' },
  'ecs-scale-with-guard': { cluster: 'retail', service: 'api', desiredCount: '3', guardAlarm: 'billing-postgres-cpu-high' },
  'failover-test': { clusterIdentifier: 'orders-aurora' },
  janitor: {},
  'monthly-dr-drill': { clusterIdentifier: 'orders-aurora', pollSeconds: '0.2' },
  'point-in-time-restore': { dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, pollSeconds: '0.2' },
  'rds-manual-snapshot': { dbInstanceIdentifier: 'billing-postgres', pollSeconds: '0.2' },
};

describe('web console on call (issue 22)', () => {
  let h: Harness;
  let browser: Browser;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    h = await Harness.start({ role: 'all', env: { RUNBOOKD_EVENTS_POLL_MS: '250' } });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  async function newPage(viewport = DESKTOP, colorScheme: 'light' | 'dark' = 'light'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport, colorScheme, timezoneId: 'Europe/Berlin' });
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    return { context, page };
  }

  async function signIn(page: Page, key = h.keys.operator): Promise<void> {
    await page.goto(`${h.baseUrl}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function expectAccessible(page: Page, name: string): Promise<void> {
    const serious = await seriousAxeViolations(page);
    expect({ page: name, serious }).toEqual({ page: name, serious: [] });
  }

  async function noSidewaysScroll(page: Page, name: string): Promise<void> {
    const widths = await page.evaluate<Record<string, number>>(
      '({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth })',
    );
    expect({ page: name, fits: widths.doc <= widths.view && widths.body <= widths.view, widths }).toMatchObject({ page: name, fits: true });
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function fill(page: Page, values: Record<string, string | boolean>): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      const field = page.locator(`#param-${name}`);
      const tag = await field.evaluate((el) => `${el.tagName}:${(el as { type?: string }).type}`);
      if (tag === 'INPUT:checkbox') await field.setChecked(value === true);
      else if (tag.startsWith('SELECT')) await field.selectOption(String(value));
      else await field.fill(String(value));
    }
  }

  const runsOf = async (runbook: string) => (await h.request('GET', `/v1/runs?runbook=${runbook}&limit=200`)).body.items as any[];

  it('answers the console with bodies that match the OpenAPI document it serves', async () => {
    const doc = (await h.request('GET', '/docs/openapi.json', { key: null })).body;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'openapi', components: doc.components });
    const check = async (url: string, schema: string, key = h.keys.operator) => {
      const res = await h.request('GET', url, { key });
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      const validate = ajv.compile({ $ref: `openapi#/components/schemas/${schema}` });
      const ok = validate(res.body);
      expect({ url, errors: ok ? [] : validate.errors }).toEqual({ url, errors: [] });
      return res.body;
    };
    const run = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, dryRun: true },
    });
    await h.waitForRun(run.body.id);
    await check('/v1/session', 'Session');
    await check('/v1/runbooks', 'RunbookList');
    await check('/v1/runbooks/point-in-time-restore', 'RunbookDetail');
    await check('/v1/runs?limit=5', 'RunList');
    await check(`/v1/runs/${run.body.id}`, 'RunView');
    await check(`/v1/runs/${run.body.id}/report`, 'RunReport');
    await check('/v1/audit?order=desc&limit=20', 'AuditList');
    await check('/v1/audit/verify', 'AuditVerifyResult');
    await check('/v1/schedules', 'ScheduleList');
    await check('/v1/approvals?state=pending', 'ApprovalList');
    const names = await check('/v1/resources/names?type=rds:db-instance', 'ResourceNames');
    expect(names.names).toEqual(expect.arrayContaining(['billing-postgres', 'orders-aurora-1']));
    expect((await check('/v1/resources/names?type=rds:db-cluster', 'ResourceNames')).names).toContain('orders-aurora');
  });

  it('refuses bad filters with a 400 naming the field, and filters runs and audit records on the server', async () => {
    for (const [url, field] of [
      ['/v1/audit?since=yesterday', 'since'],
      ['/v1/audit?order=sideways', 'order'],
      ['/v1/audit?beforeSeq=-1', 'beforeSeq'],
      ['/v1/runs?until=soon', 'until'],
      ['/v1/resources/names?type=ec2:instance', 'type'],
      ['/v1/resources/names?type=rds:db-instance&region=mars', 'region'],
    ]) {
      const res = await h.request('GET', url, { key: h.keys.operator });
      expect({ url, status: res.status, field: res.body.error?.details?.field }).toEqual({ url, status: 400, field });
    }
    // The names come from the account: for operators, who start runs.
    expect((await h.request('GET', '/v1/resources/names?type=rds:db-instance', { key: h.keys.viewer })).status).toBe(403);

    const marker = `findme${Date.now()}`;
    const started = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, dryRun: true, reason: `search ${marker}` },
    });
    await h.waitForRun(started.body.id);
    const found = (await h.request('GET', `/v1/runs?q=${marker}`)).body.items;
    expect(found.map((r: any) => r.id)).toEqual([started.body.id]);
    expect((await h.request('GET', `/v1/runs?q=${marker}%20nothing-else-matches`)).body.items).toEqual([]);
    const createdAt = Date.parse(started.body.createdAt);
    expect((await h.request('GET', `/v1/runs?q=${marker}&since=${new Date(createdAt + 60_000).toISOString()}`)).body.items).toEqual([]);
    expect((await h.request('GET', `/v1/runs?q=${marker}&until=${new Date(createdAt + 60_000).toISOString()}`)).body.items).toHaveLength(1);

    const newest = (await h.request('GET', '/v1/audit?order=desc&limit=5')).body;
    const seqs = newest.items.map((r: any) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a: number, b: number) => b - a));
    expect(newest.nextBeforeSeq).toBe(seqs[seqs.length - 1]);
    const next = (await h.request('GET', `/v1/audit?order=desc&limit=5&beforeSeq=${newest.nextBeforeSeq}`)).body.items;
    expect(next.every((r: any) => r.seq < newest.nextBeforeSeq)).toBe(true);
    const accepted = (await h.request('GET', `/v1/audit?kind=run.accepted&runId=${started.body.id}`)).body.items;
    expect(accepted.map((r: any) => r.kind)).toEqual(['run.accepted']);
    const family = (await h.request('GET', `/v1/audit?kind=run.&runId=${started.body.id}`)).body.items;
    expect(family.length).toBeGreaterThan(1);
    expect(family.every((r: any) => r.kind.startsWith('run.'))).toBe(true);
    expect((await h.request('GET', `/v1/audit?actor=otto&runId=${started.body.id}`)).body.items.length).toBeGreaterThan(0);
    expect((await h.request('GET', `/v1/audit?actor=nobody-at-all&runId=${started.body.id}`)).body.items).toEqual([]);
    const at = Date.parse(accepted[0].at);
    expect((await h.request('GET', `/v1/audit?kind=run.accepted&runId=${started.body.id}&since=${new Date(at + 1).toISOString()}`)).body.items).toEqual([]);
  });

  it('draws the point-in-time restore form with a checkbox and its rules; says a broken rule before the service is asked', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/runbooks/point-in-time-restore`);
    await page.getByRole('heading', { name: 'Start a run' }).waitFor();
    const box = page.locator('#param-useLatestRestorableTime');
    expect(await box.getAttribute('type')).toBe('checkbox');
    expect(await page.locator('#param-pollSeconds').getAttribute('type')).toBe('number');
    expect(await page.locator('#param-mode').evaluate((e) => e.tagName)).toBe('SELECT');
    const rules = await page.getByRole('list', { name: 'Rules' }).textContent();
    expect(rules).toContain('Give one of dbInstanceIdentifier or clusterIdentifier');
    expect(rules).toContain('Give one of restoreTime or useLatestRestorableTime');
    // The description's backticks are code, not literal backticks.
    expect(await page.locator('.markdown code').first().textContent()).toBe('drill');
    // The instance names come from the account, as suggestions.
    await page.locator('#param-dbInstanceIdentifier-names option[value="billing-postgres"]').waitFor({ state: 'attached' });

    const before = (await runsOf('point-in-time-restore')).length;
    await page.getByRole('button', { name: 'Show plan' }).click();
    await page.getByRole('alert').filter({ hasText: 'Give one of dbInstanceIdentifier or clusterIdentifier' }).waitFor();
    expect((await runsOf('point-in-time-restore')).length).toBe(before);

    await fill(page, FORM_VALUES['point-in-time-restore']);
    await page.getByRole('button', { name: 'Show plan' }).click();
    await page.locator('.plan h3 a').waitFor();
    const planId = (await page.locator('.plan h3 a').textContent())!.trim();
    const plan = (await h.request('GET', `/v1/runs/${planId}`)).body;
    expect(plan).toMatchObject({ dryRun: true, parameters: { dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, pollSeconds: 0.2 } });
    await shot(page, 'pitr-form-desktop');
    await expectAccessible(page, 'point-in-time-restore form');

    // The plan ends within seconds: it does not wait for a restored copy it only planned.
    const ended = await h.waitForRun(planId, ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'], 20_000);
    expect(ended.state).toBe('succeeded');
    await page.locator('.plan .badge.state-succeeded').first().waitFor();
    const run = page.getByRole('button', { name: 'Run', exact: true });
    await eventually(async () => ((await run.isDisabled()) ? undefined : true), 10_000, 'Run enabled after the PITR plan');
    await run.click();
    await page.waitForURL(/#\/runs\/r/);
    const runId = /#\/runs\/([^/?]+)/.exec(page.url())![1];
    const real = await h.waitForRun(runId, ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'], 90_000);
    expect({ state: real.state, dryRun: real.dryRun, parameters: real.parameters }).toEqual({
      state: 'succeeded',
      dryRun: false,
      parameters: expect.objectContaining({ dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true }),
    });
    await page.locator('h1 .badge.state-succeeded').waitFor({ timeout: 20_000 });
    await context.close();
  }, 150_000);

  it("shows a runbook's recent real runs on its page: the success rate, a duration bar per ended run, and links to the runs", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    // One succeeded and one failed real run of failover-test: the failed one names a cluster that is not there.
    const ok = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' } },
    });
    const bad = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'no-such-cluster' } },
    });
    for (const r of [ok, bad]) await h.waitForRun(r.body.id, ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'], 90_000);
    const real = (await runsOf('failover-test')).slice(0, 30).filter((r) => !r.dryRun);
    const endedRuns = real.filter((r) => ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'].includes(r.state));
    const succeeded = endedRuns.filter((r) => r.state === 'succeeded').length;
    expect(succeeded).toBeGreaterThan(0);
    expect(succeeded).toBeLessThan(endedRuns.length);

    await page.goto(`${h.baseUrl}/#/runbooks/failover-test`);
    const section = page.getByRole('region', { name: 'Recent runs' });
    await section.locator('.success-rate').waitFor();
    expect(await section.locator('.success-rate').textContent()).toMatch(
      new RegExp(`^${Math.round((succeeded / endedRuns.length) * 100)}% succeeded \\(${succeeded} of the last ${endedRuns.length} ended runs\\); median \\d`),
    );
    const trend = section.getByRole('img', { name: `Duration of the last ${endedRuns.length} runs, oldest first` });
    expect(await trend.locator('rect').count()).toBe(endedRuns.length);
    expect(await trend.locator('rect.bar-failed').count()).toBeGreaterThan(0);
    const links = await section.locator('.recent-runs a').allTextContents();
    expect(links).toEqual(real.slice(0, 5).map((r) => r.id));
    await section.getByRole('link', { name: 'All runs of this runbook' }).click();
    await page.waitForURL(/#\/runs\?runbook=failover-test/);
    await shot(page, 'runbook-recent-runs');
    await context.close();
  }, 150_000);

  it('draws skeletons on every page while its data is on the way, and replaces them with the data', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    // Every API read but the session is held until the test lets it through.
    let release: () => void = () => undefined;
    let gate = new Promise<void>((r) => (release = r));
    await page.route(
      (u) => u.pathname.startsWith('/v1/') && u.pathname !== '/v1/session' && u.pathname !== '/v1/stop-all',
      async (route) => {
        if (route.request().method() === 'GET') await gate;
        await route.continue();
      },
    );
    const run = (await runsOf('failover-test'))[0];
    for (const [url, skeleton, ready] of [
      ['#/runbooks', 'Loading runbooks', '.runbook-card'],
      ['#/runbooks/failover-test', 'Loading the runbook', '#param-clusterIdentifier'],
      [`#/runs/${run.id}`, 'Loading the run', '[data-step]'],
      ['#/runs', 'Loading runs', 'tr[data-run]'],
      ['#/approvals', 'Loading approvals', 'table.approvals tbody tr'],
      ['#/schedules', 'Loading schedules', '.schedule-words'],
      ['#/audit', 'Loading audit records', 'tr[data-seq]'],
    ] as const) {
      gate = new Promise<void>((r) => (release = r));
      await page.goto(`${h.baseUrl}/${url}`);
      const loading = page.getByLabel(skeleton).first();
      await loading.waitFor();
      expect({ url, ready: await page.locator(ready).count() }).toEqual({ url, ready: 0 });
      release();
      await page.locator(ready).first().waitFor();
      await loading.waitFor({ state: 'detached' });
    }
    release();
    await context.close();
  }, 90_000);

  it('plans every shipped runbook from its form, and Run starts the real run (after "run anyway" where the plan failed)', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    const ids = ((await h.request('GET', '/v1/runbooks')).body.items as any[]).map((r) => r.id).sort();
    expect(ids).toEqual(Object.keys(FORM_VALUES).sort());
    const outcome: Record<string, string> = {};
    for (const id of ids) {
      await page.goto(`${h.baseUrl}/#/runbooks/${id}`);
      await page.getByRole('heading', { name: 'Start a run' }).waitFor();
      await fill(page, FORM_VALUES[id]);
      // `#run-reason`: a runbook may have a parameter called reason too.
      await page.locator('#run-reason').fill(`console e2e ${id}`);
      await page.getByRole('button', { name: 'Show plan' }).click();
      await page.locator('.plan h3 a').waitFor({ timeout: 15_000 });
      const planId = (await page.locator('.plan h3 a').textContent())!.trim();
      const plan = await h.waitForRun(planId, ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'], 60_000);
      const runButton = page.getByRole('button', { name: /^Run( anyway)?$/ });
      if (plan.state !== 'succeeded') {
        // A failed plan says so and asks first.
        await page.locator('.plan-failed').waitFor();
        expect(await runButton.isDisabled()).toBe(true);
        await page.getByLabel('Run anyway: I have read why the plan failed').check();
      }
      await eventually(async () => ((await runButton.isDisabled()) ? undefined : true), 10_000, `Run enabled for ${id}`);
      await runButton.click();
      await page.waitForURL(/#\/runs\/r/);
      const runId = /#\/runs\/([^/?]+)/.exec(page.url())![1];
      const real = (await h.request('GET', `/v1/runs/${runId}`)).body;
      expect({ id, runbookId: real.runbookId, dryRun: real.dryRun, reason: real.reason }).toEqual({
        id,
        runbookId: id,
        dryRun: false,
        reason: `console e2e ${id}`,
      });
      outcome[id] = `plan ${plan.state}, run ${real.state}`;
      // One at a time: the next runbook may share a guard (the cluster) with this one.
      if (!['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'].includes(real.state))
        await h.request('POST', `/v1/runs/${runId}/cancel`, { key: h.keys.operator });
      await h.waitForRun(runId, ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'], 90_000);
    }
    expect(Object.keys(outcome).sort()).toEqual(ids);
    await context.close();
  }, 900_000);

  it('keeps nothing from one runbook form in the next, by link or by Back; an unknown runbook shows only the error', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/runbooks/failover-test`);
    await page.getByRole('heading', { name: 'Start a run' }).waitFor();
    await fill(page, { clusterIdentifier: 'orders-aurora', maxSwitchSeconds: '42' });
    await page.getByLabel('Reason').fill('left behind?');
    const firstKey = await page.getByLabel('Idempotency key').inputValue();
    await page.goto(`${h.baseUrl}/#/runbooks/backup-verification`);
    await page.locator('#param-dbInstanceIdentifier').waitFor();
    expect(await page.getByLabel('Reason').inputValue()).toBe('');
    expect(await page.getByLabel('Idempotency key').inputValue()).not.toBe(firstKey);
    await page.goBack();
    await page.locator('#param-maxSwitchSeconds').waitFor();
    expect(await page.locator('#param-maxSwitchSeconds').inputValue()).toBe('60');
    expect(await page.getByLabel('Reason').inputValue()).toBe('');
    await page.goto(`${h.baseUrl}/#/runbooks/no-such-runbook`);
    await page.getByRole('alert').filter({ hasText: 'no-such-runbook' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Start a run' }).count()).toBe(0);
    expect(await page.locator('#param-clusterIdentifier').count()).toBe(0);
    expect(await page.title()).toBe('Runbook no-such-runbook not found · runbookd');
    await context.close();
  });

  it('shows every time with its zone, switches to local time and remembers it; names the tab after the run', async () => {
    const started = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, dryRun: true },
    });
    await h.waitForRun(started.body.id);
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/runs/${started.body.id}`);
    await page.locator('h1 .badge.state-succeeded').waitFor();
    await page.locator('[data-step="precheck"] time').first().waitFor();
    const times = await page.locator('time').allTextContents();
    expect(times.length).toBeGreaterThan(3);
    for (const t of times) expect(t).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    expect(await page.title()).toBe(`Run ${started.body.id.slice(0, 9)}… succeeded (dry run) · failover-test · runbookd`);

    await page.getByLabel('Show times in').selectOption('local');
    // The browser runs in Europe/Berlin: CET or CEST, by the date.
    for (const t of await page.locator('time').allTextContents()) expect(t).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (CET|CEST|GMT\+1|GMT\+2)$/);
    await page.reload();
    await page.locator('[data-step="precheck"] time').first().waitFor();
    expect(await page.getByLabel('Show times in').inputValue()).toBe('local');
    expect(await page.locator('time').first().textContent()).toMatch(/(CET|CEST|GMT\+1|GMT\+2)$/);
    await page.getByLabel('Show times in').selectOption('utc');
    await context.close();
  });

  it('keeps filters and the page in the URL, so a reload shows the same runs and audit records', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/runs`);
    await page.getByLabel('Runbook').selectOption('failover-test');
    await page.getByLabel('State').selectOption('succeeded');
    await page.getByLabel('Search').fill('orders');
    await page.getByRole('button', { name: 'Search' }).click();
    await eventually(() => (page.url().includes('q=orders') ? true : undefined));
    expect(page.url()).toContain('runbook=failover-test');
    expect(page.url()).toContain('state=succeeded');
    await page.reload();
    await page.locator('tr[data-run]').first().waitFor();
    expect(await page.getByLabel('Runbook').inputValue()).toBe('failover-test');
    expect(await page.getByLabel('State').inputValue()).toBe('succeeded');
    expect(await page.getByLabel('Search').inputValue()).toBe('orders');
    for (const row of await page.locator('tr[data-run]').all()) expect(await row.locator('.badge').textContent()).toBe('succeeded');
    await page.locator('th', { hasText: 'Took' }).waitFor();
    await shot(page, 'runs-filtered-desktop');

    await page.goto(`${h.baseUrl}/#/audit`);
    await page.getByLabel('Kind').selectOption('run.accepted');
    await page.locator('tr[data-seq]').first().waitFor();
    await page.reload();
    await page.locator('tr[data-seq]').first().waitFor();
    expect(await page.getByLabel('Kind').inputValue()).toBe('run.accepted');
    const kinds = await page.locator('tr[data-seq] td[data-label="Kind"]').allTextContents();
    expect(new Set(kinds)).toEqual(new Set(['run.accepted']));
    const seqs = await page.locator('tr[data-seq]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    await shot(page, 'audit-desktop');
    await context.close();
  });

  it('shows the approver only the steps that will run: failback with failback=false is marked as not running', async () => {
    const started = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora', environment: 'production', failback: false }, reason: 'approval plan' },
    });
    expect(started.status).toBe(202);
    const { context, page } = await newPage();
    await signIn(page, h.keys.admin);
    await page.goto(`${h.baseUrl}/#/runs/${started.body.id}`);
    const plan = page.getByRole('list', { name: 'Approval plan' });
    await plan.locator('[data-step="failover"]').waitFor({ timeout: 30_000 });
    expect(await plan.locator('[data-step="failback"]').count()).toBe(0);
    expect(await page.locator('.skipped-steps').getAttribute('data-skipped')).toBe('failback');
    await shot(page, 'approval-desktop');
    await expectAccessible(page, 'approval');
    await context.close();
    await h.request('POST', `/v1/runs/${started.body.id}/reject`, { key: h.keys.admin, body: { comment: 'test over' } });
  }, 60_000);

  it('says a schedule in words with its next fires; pausing asks for a reason, which is audited; resuming is not a tick', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/schedules`);
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'monthly-dr-drill.monthly' }) });
    await card.waitFor();
    expect(await card.locator('.schedule-words').textContent()).toBe('03:00 UTC on the 1st of each month');
    const fires = await card.locator('.next-fires time').allTextContents();
    expect(fires).toHaveLength(3);
    for (const f of fires) expect(f).toMatch(/^\d{4}-\d{2}-01 03:00:00 UTC$/);
    await card.getByRole('button', { name: 'Pause' }).click();
    expect(await card.getByRole('button', { name: 'Pause schedule' }).isDisabled()).toBe(true);
    await card.getByLabel('Why pause it?').fill('DR region maintenance this week');
    await card.getByRole('button', { name: 'Pause schedule' }).click();
    await card.getByRole('button', { name: 'Resume' }).waitFor();
    expect(await card.textContent()).toContain('DR region maintenance this week');
    const audit = (await h.request('GET', '/v1/audit?kind=schedule.paused&order=desc&limit=1')).body.items[0];
    expect(audit).toMatchObject({ actor: 'otto', data: { scheduleId: 'monthly-dr-drill.monthly', reason: 'DR region maintenance this week' } });
    await shot(page, 'schedules-paused-desktop');
    await card.getByRole('button', { name: 'Resume' }).click();
    await card.getByRole('button', { name: 'Pause' }).waitFor();
    const view = (await h.request('GET', '/v1/schedules/monthly-dr-drill.monthly')).body;
    expect(view).toMatchObject({ paused: false, lastTickAt: null, recentTicks: [] });
    expect(await card.textContent()).toContain('none yet');
    await context.close();
  });

  it('asks to sign in again when the session expires mid-form, and keeps what was typed', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/runbooks/failover-test`);
    await page.getByRole('heading', { name: 'Start a run' }).waitFor();
    await fill(page, { clusterIdentifier: 'orders-aurora', maxSwitchSeconds: '45' });
    await page.getByLabel('Reason').fill('typed before the session ended');
    const db = new Client({ connectionString: h.db.url });
    await db.connect();
    try {
      await db.query(`UPDATE console_sessions SET expires_at = now() - interval '1 second'`);
    } finally {
      await db.end();
    }
    await page.getByRole('button', { name: 'Show plan' }).click();
    const dialog = page.getByRole('dialog', { name: 'Your session expired' });
    await dialog.waitFor();
    await shot(page, 'session-expired-desktop');
    await dialog.getByLabel('API key').fill(h.keys.operator);
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await page.locator('#param-maxSwitchSeconds').inputValue()).toBe('45');
    expect(await page.getByLabel('Reason').inputValue()).toBe('typed before the session ended');
    await page.getByRole('button', { name: 'Show plan' }).click();
    await page.locator('.plan h3 a').waitFor();
    await context.close();
  });

  it('keeps the last data with a banner when the service stops answering', async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${h.baseUrl}/#/runs`);
    await page.locator('tr[data-run]').first().waitFor();
    const rows = await page.locator('tr[data-run]').count();
    await context.setOffline(true);
    await page.getByRole('status').filter({ hasText: 'The service is not answering' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('tr[data-run]').count()).toBe(rows);
    await shot(page, 'offline-desktop');
    await context.setOffline(false);
    await page.getByRole('status').filter({ hasText: 'The service is not answering' }).waitFor({ state: 'detached', timeout: 10_000 });
    await context.close();
  });

  it('fits every page into a 360 px phone without sideways scrolling, sizes the report to its content, and stays accessible in dark mode', async () => {
    const started = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'phone check' },
    });
    await h.waitForRun(started.body.id);
    for (const [viewport, scheme, label] of [
      [{ width: 360, height: 780 }, 'light', '360'],
      [PHONE, 'dark', '390-dark'],
      [DESKTOP, 'dark', '1366-dark'],
    ] as const) {
      const { context, page } = await newPage(viewport, scheme);
      await signIn(page);
      for (const [name, url, ready] of [
        ['runbooks', '#/runbooks', '.runbook-card'],
        ['runbook', '#/runbooks/point-in-time-restore', '#param-useLatestRestorableTime'],
        ['run', `#/runs/${started.body.id}`, 'table.stack caption'],
        ['runs', '#/runs', 'tr[data-run]'],
        ['approvals', '#/approvals', 'table.approvals'],
        ['schedules', '#/schedules', '.schedule-words'],
        ['audit', '#/audit', 'tr[data-seq]'],
      ] as const) {
        await page.goto(`${h.baseUrl}/${url}`);
        await page.locator(ready).first().waitFor();
        if (name === 'run') {
          // The report frame is as tall as the report.
          const frame = page.locator('iframe.report');
          await eventually(
            async () => {
              const sizes: { frame: number; content: number } = await frame.evaluate((f: any) => ({
                frame: f.clientHeight,
                content: f.contentDocument?.documentElement.scrollHeight ?? 0,
              }));
              return sizes.content > 200 && Math.abs(sizes.frame - sizes.content) <= 4 ? true : undefined;
            },
            10_000,
            'the report frame to fit its content',
          );
        }
        await noSidewaysScroll(page, `${name} at ${label}`);
        await expectAccessible(page, `${name} at ${label}`);
        await shot(page, `${name}-${label}`);
      }
      await context.close();
    }
  }, 180_000);

  it('broke no content-security rule', () => {
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e))).toEqual([]);
  });
});
