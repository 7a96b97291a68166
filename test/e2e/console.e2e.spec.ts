import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium, seriousAxeViolations } from '../support/browser';
import { Harness, ROOT } from '../support/runbookd';

/**
 * The web console in Debian's Chromium against the real service (all-in-one process, PostgreSQL,
 * Redis, moto): sign in, plan then run a failover test, watch it live, read its report, cancel a
 * long run, a viewer's view, the API's field errors in the form, and axe on every page.
 */
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts', 'console');

describe('web console in a browser', () => {
  let h: Harness;
  let browser: Browser;
  let runbooksDir: string;
  /** Every URL any page asked for: the console must load nothing from outside the service. */
  const requested: string[] = [];
  /** Console errors (a CSP violation shows up here). */
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // The shipped runbooks plus a long sleep to cancel.
    runbooksDir = await mkdtemp(path.join(tmpdir(), 'runbookd-console-'));
    for (const f of await readdir(path.join(ROOT, 'runbooks'))) if (f.endsWith('.yaml')) await cp(path.join(ROOT, 'runbooks', f), path.join(runbooksDir, f));
    await cp(path.join(ROOT, 'test', 'e2e', 'fixtures', 'console', 'long-sleep.yaml'), path.join(runbooksDir, 'long-sleep.yaml'));
    await mkdir(ARTIFACTS, { recursive: true });
    h = await Harness.start({ role: 'all', runbooksDir, env: { RUNBOOKD_EVENTS_POLL_MS: '250' } });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (runbooksDir) await rm(runbooksDir, { recursive: true, force: true });
  });

  async function newPage(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    return { context, page };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${h.baseUrl}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  /** axe-core in the page (evaluated, so the page's CSP stays on); fails on serious or critical violations. */
  async function expectAccessible(page: Page, name: string): Promise<void> {
    const serious = await seriousAxeViolations(page);
    expect({ page: name, serious }).toEqual({ page: name, serious: [] });
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  it('signs in with an API key (a wrong key shows the API error), and lists the runbooks', async () => {
    const { context, page } = await newPage();
    await page.goto(`${h.baseUrl}/`);
    await expectAccessible(page, 'sign-in');
    await page.getByLabel('API key').fill('rbd_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }).waitFor();
    await shot(page, 'sign-in');

    await page.getByLabel('API key').fill(h.keys.operator);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('otto').waitFor();
    // The session is an httpOnly cookie: page scripts cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');
    const cookie = (await context.cookies()).find((c) => c.name === 'runbookd_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    await page.getByRole('link', { name: 'RDS failover test' }).waitFor();
    await page.getByRole('link', { name: 'Sleeps two minutes (a long run to cancel from the console)' }).waitFor();
    await shot(page, 'runbooks');
    await expectAccessible(page, 'runbooks');
    await context.close();
  });

  it('shows the API field error next to a bad parameter; plans, then runs a failover test and watches it succeed live; opens its report', async () => {
    const { context, page } = await newPage();
    await signIn(page, h.keys.operator);
    await page.getByRole('link', { name: 'RDS failover test' }).click();
    await page.getByRole('heading', { name: 'Start a run' }).waitFor();
    await expectAccessible(page, 'runbook');

    // A bad value: the API's answer is shown at the field, and nothing can be run.
    await page.getByLabel('clusterIdentifier').fill('orders-aurora');
    await page.getByLabel('maxSwitchSeconds').fill('-5');
    await page.getByRole('button', { name: 'Show plan' }).click();
    const fieldError = page.locator('#param-maxSwitchSeconds-error');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toContain('maxSwitchSeconds');
    expect(await page.getByLabel('maxSwitchSeconds').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled()).toBe(true);
    await shot(page, 'runbook-field-error');

    // The plan: a dry run through the API, every step, the exact call it would make. Nothing changes.
    await page.getByLabel('maxSwitchSeconds').fill('60');
    await page.getByLabel('Reason').fill('console failover test');
    await page.getByRole('button', { name: 'Show plan' }).click();
    const plan = page.getByRole('list', { name: 'Plan' });
    await plan.locator('[data-step="failover"][data-state="planned"]').waitFor({ timeout: 30_000 });
    const failoverStep = plan.locator('[data-step="failover"]');
    expect(await failoverStep.textContent()).toContain('rds:FailoverDBCluster');
    expect(await failoverStep.locator('.json').first().textContent()).toContain('"DBClusterIdentifier": "orders-aurora"');
    // Every step of the runbook is listed, reached or not.
    expect(await plan.locator('[data-step]').count()).toBeGreaterThanOrEqual(5);
    await page.locator('.plan .badge.state-succeeded').first().waitFor({ timeout: 30_000 });
    expect(h.proxy.count('FailoverDBCluster')).toBe(0);
    await shot(page, 'runbook-plan');
    await expectAccessible(page, 'runbook with plan');

    // Changing a parameter invalidates the plan; the same parameters again re-enable Run.
    await page.getByLabel('maxSwitchSeconds').fill('61');
    expect(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled()).toBe(true);
    await page.getByLabel('maxSwitchSeconds').fill('60');
    const run = page.getByRole('button', { name: 'Run', exact: true });
    expect(await run.isDisabled()).toBe(false);

    // Mark the document: a reload or navigation away would lose the mark.
    await page.evaluate('window.__sameDocument = true');
    // moto's answer to the failover is held a few seconds, so the page surely opens on a run in progress.
    h.proxy.holdResponses('FailoverDBCluster', 4000);
    await run.click();
    await page.waitForURL(/#\/runs\/r/);
    const runId = /#\/runs\/([^/?]+)/.exec(page.url())![1];
    // The steps turn succeeded on the page as the run goes, over the event stream.
    const steps = page.getByRole('list', { name: 'Steps' });
    await steps.locator('[data-step="verify"][data-state="not-reached"]').waitFor();
    expect(requested.some((u) => u.endsWith(`/v1/runs/${runId}/events`))).toBe(true);
    await steps.locator('[data-step="verify"][data-state="succeeded"]').waitFor({ timeout: 45_000 });
    await page.locator('h1 .badge.state-succeeded').waitFor({ timeout: 20_000 });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    h.proxy.holdResponses('FailoverDBCluster', 0);
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    const recorded = await h.request('GET', `/v1/runs/${runId}`);
    expect(recorded.body).toMatchObject({ state: 'succeeded', dryRun: false, actor: 'otto', reason: 'console failover test' });
    expect(recorded.body.parameters).toMatchObject({ clusterIdentifier: 'orders-aurora', maxSwitchSeconds: 60 });

    // Findings, figures and the report inline.
    await page.getByRole('table', { name: 'Figures' }).waitFor();
    expect(await page.getByRole('table', { name: 'Figures' }).textContent()).toContain('orders-aurora-2');
    const frame = page.frameLocator('iframe.report');
    await frame.getByText('orders-aurora-2').first().waitFor();
    await shot(page, 'run');
    await expectAccessible(page, 'run');

    // The report link opens in the browser with the session cookie (no bearer header).
    const report = await context.newPage();
    const res = await report.goto(`${h.baseUrl}/v1/runs/${runId}/report?format=html`);
    expect(res!.status()).toBe(200);
    expect(await report.content()).toContain('orders-aurora-2');
    const md = await context.request.get(`${h.baseUrl}/v1/runs/${runId}/report?format=md`);
    expect(md.status()).toBe(200);

    // Runs list with filters.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs' }).click();
    await page.getByLabel('Runbook').selectOption('failover-test');
    await page.getByLabel('State').selectOption('succeeded');
    await page.locator(`tr[data-run="${runId}"]`).waitFor();
    await shot(page, 'runs');
    await expectAccessible(page, 'runs');

    // Audit with the chain check.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText(/Intact: \d+ records/).waitFor();
    await shot(page, 'audit');
    await expectAccessible(page, 'audit');

    // Schedules.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
    await shot(page, 'schedules');
    await expectAccessible(page, 'schedules');
    await context.close();
  }, 120_000);

  it('cancels a long run from its page and shows it end cancelled', async () => {
    const started = await h.request('POST', '/v1/runbooks/long-sleep/runs', {
      key: h.keys.operator,
      body: { parameters: { seconds: 120 }, reason: 'to be cancelled' },
    });
    expect(started.status).toBe(202);
    const { context, page } = await newPage({ width: 390, height: 844 }); // a phone
    await signIn(page, h.keys.operator);
    await page.goto(`${h.baseUrl}/#/runs/${started.body.id}`);
    await page.locator('[data-step="nap"][data-state="waiting"]').waitFor({ timeout: 20_000 });
    await shot(page, 'run-phone-waiting');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('h1 .badge.state-cancelled').waitFor({ timeout: 30_000 });
    expect((await h.request('GET', `/v1/runs/${started.body.id}`)).body.state).toBe('cancelled');
    await shot(page, 'run-phone-cancelled');
    await expectAccessible(page, 'run (phone)');
    // Re-run opens the form with the same parameters and says where they came from. The earlier
    // run's answer is held back a moment, as a slow network would: the form must not be drawn with
    // the defaults (seconds is 120 by default too) and an empty reason before it arrives.
    await page.route(`**/v1/runs/${started.body.id}`, async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.getByRole('heading', { name: 'Start a run' }).waitFor();
    await page.getByRole('status', { name: `Loading the parameters of run ${started.body.id}` }).waitFor();
    await page.getByText(`Parameters of run ${started.body.id}`).waitFor();
    expect(await page.getByLabel('seconds').inputValue()).toBe('120');
    expect(await page.getByLabel('Reason').inputValue()).toBe(`re-run of ${started.body.id}: to be cancelled`);
    await context.close();
  });

  it('shows a viewer no Run, Cancel, Re-run or Pause', async () => {
    const long = await h.request('POST', '/v1/runbooks/long-sleep/runs', { key: h.keys.operator, body: { parameters: { seconds: 60 } } });
    const { context, page } = await newPage();
    await signIn(page, h.keys.viewer);
    await page.goto(`${h.baseUrl}/#/runbooks/failover-test`);
    await page.getByRole('heading', { name: 'Steps' }).waitFor();
    expect(await page.getByRole('button', { name: 'Run', exact: true }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Show plan' }).count()).toBe(0);
    await page.goto(`${h.baseUrl}/#/runs/${long.body.id}`);
    await page.locator('[data-step="nap"]').waitFor();
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Re-run' }).count()).toBe(0);
    await page.goto(`${h.baseUrl}/#/schedules`);
    await page.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.getByRole('button', { name: /Pause|Resume/ }).count()).toBe(0);
    await shot(page, 'viewer-schedules');
    await context.close();
    await h.request('POST', `/v1/runs/${long.body.id}/cancel`, { key: h.keys.operator });
  });

  it('loaded nothing from outside the service and broke no content-security rule', () => {
    const origin = new URL(h.baseUrl).origin;
    const outside = requested.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && u !== 'about:blank');
    expect(outside).toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e))).toEqual([]);
  });
});
