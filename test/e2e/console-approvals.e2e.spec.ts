import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium, seriousAxeViolations } from '../support/browser';
import { eventually, Harness, ROOT } from '../support/runbookd';

/**
 * Approvals in the web console, in Debian's Chromium against the real service (PostgreSQL, Redis,
 * moto): a point-in-time recovery started by one operator waits; a second operator finds it
 * under Approvals, reads the plan on the run's page and approves it, and the page follows the run
 * to its end; a stale plan hash is refused with the API's code; the requester and a viewer get
 * no Approve; a reject from the page ends the run `rejected`; axe on both pages.
 */
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts', 'console');
const RESTORE = 'RestoreDBInstanceToPointInTime';
/** A second operator ("key B"): approvals must come from someone other than the requester. */
const OLGA_KEY = `rbd_o2_${randomBytes(12).toString('hex')}`;

describe('approvals in the web console', () => {
  let h: Harness;
  let browser: Browser;

  const recovery = (targetIdentifier: string) => ({
    parameters: { dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, mode: 'recovery', targetIdentifier, pollSeconds: 0.2 },
    reason: 'restore billing after a bad migration',
  });
  /** Otto (key A) starts a recovery; it waits at its approval gate. */
  async function startPending(target: string): Promise<{ runId: string; approval: any }> {
    const res = await h.request('POST', '/v1/runbooks/point-in-time-restore/runs', { key: h.keys.operator, body: recovery(target) });
    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    const approval = await eventually(
      async () => {
        const a = await h.request('GET', `/v1/runs/${runId}/approval`);
        return a.status === 200 && a.body.state === 'pending' ? a.body : undefined;
      },
      30_000,
      `run ${runId} to ask for approval`,
    );
    return { runId, approval };
  }

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    h = await Harness.start({
      role: 'all',
      env: { RUNBOOKD_EVENTS_POLL_MS: '250' },
      extraApiKeys: [`olga:operator:${createHash('sha256').update(OLGA_KEY).digest('hex')}`],
    });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  async function signedIn(key: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${h.baseUrl}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { context, page };
  }

  async function expectAccessible(page: Page, name: string): Promise<void> {
    const serious = await seriousAxeViolations(page);
    expect({ page: name, serious }).toEqual({ page: name, serious: [] });
  }

  const approvalSection = (page: Page) => page.getByRole('region', { name: 'Approval' });

  it('a second operator finds the pending recovery under Approvals, reads the plan, is refused on a stale plan hash, approves, and watches the run succeed', async () => {
    const { runId, approval } = await startPending('billing-console');
    expect(h.proxy.count(RESTORE)).toBe(0);
    const { context, page } = await signedIn(OLGA_KEY);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    const row = page.locator(`tr[data-run="${runId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('otto');
    expect(await row.textContent()).toContain('0 of 1');
    await page.screenshot({ path: path.join(ARTIFACTS, 'approvals.png'), fullPage: true });
    await expectAccessible(page, 'approvals');

    await row.getByRole('link', { name: runId }).click();
    await page.waitForURL(new RegExp(`#/runs/${runId}$`));
    const section = approvalSection(page);
    await section.getByRole('button', { name: 'Approve', exact: true }).waitFor();
    // The plan as the API holds it: the exact restore call with its target, its hash, who asked, what is needed.
    const plan = section.getByRole('list', { name: 'Approval plan' });
    expect(await plan.locator('[data-step="restore"]').textContent()).toContain(`rds:${RESTORE}`);
    expect(await plan.locator('[data-step="restore"] .json').first().textContent()).toContain('"TargetDBInstanceIdentifier": "billing-console"');
    expect(await section.locator('.plan-hash').textContent()).toBe(approval.planHash);
    const facts = await section.locator('dl').textContent();
    expect(facts).toContain('otto');
    expect(facts).toContain('0 of 1 needed');
    expect(await page.locator('h1 .badge').textContent()).toBe('waiting');
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-approval-pending.png'), fullPage: true });
    await expectAccessible(page, 'run with a pending approval');

    // A plan that changed since the page was read: the API refuses (409) and the page says so with the code.
    await page.route(`**/v1/runs/${runId}/approve`, (route) =>
      route.continue({ postData: JSON.stringify({ ...JSON.parse(route.request().postData() ?? '{}'), planHash: 'f'.repeat(64) }) }),
    );
    await section.getByRole('button', { name: 'Approve', exact: true }).click();
    const refusal = section.getByRole('alert');
    await refusal.filter({ hasText: 'APPROVAL_PLAN_CHANGED' }).waitFor();
    expect(await refusal.textContent()).toContain('the plan changed since you looked');
    await page.unroute(`**/v1/runs/${runId}/approve`);
    expect((await h.request('GET', `/v1/runs/${runId}/approval`)).body).toMatchObject({ state: 'pending', approvals: [] });
    expect(h.proxy.count(RESTORE)).toBe(0);

    // The real decision: with the comment and the plan hash shown, over the cookie session with the CSRF header.
    await page.evaluate('window.__sameDocument = true');
    await section.getByLabel('Comment').fill('point and name checked');
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith(`/v1/runs/${runId}/approve`) && r.method() === 'POST'),
      section.getByRole('button', { name: 'Approve', exact: true }).click(),
    ]);
    expect(JSON.parse(request.postData()!)).toEqual({ planHash: approval.planHash, comment: 'point and name checked' });
    expect(request.headers()['x-csrf-token']).toBeTruthy();
    expect(request.headers().authorization).toBeUndefined();
    await section.locator('.card-head .badge.state-approved').waitFor();
    await section.getByText('point and name checked').waitFor();
    // The page follows the run to its end without a reload.
    await page.locator('h1 .badge.state-succeeded').waitFor({ timeout: 60_000 });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    expect(await section.getByRole('button', { name: 'Approve', exact: true }).count()).toBe(0);
    const run = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(run.state).toBe('succeeded');
    expect(run.steps.find((s: any) => s.id === 'approval').output).toMatchObject({ approvedBy: ['olga'], planHash: approval.planHash });
    expect(h.proxy.count(RESTORE)).toBe(1);
    const audit = (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items as any[];
    expect(audit.find((r) => r.kind === 'approval.decided')).toMatchObject({ actor: 'olga', data: { decision: 'approve', comment: 'point and name checked' } });

    // Nothing is pending any more.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    await page.getByText('No approvals are pending.').waitFor();
    await context.close();
  }, 120_000);

  it('the requester sees the plan and a note instead of Approve; a viewer sees no buttons; a reject from the page ends the run `rejected`', async () => {
    const { runId } = await startPending('billing-rejected');

    const requester = await signedIn(h.keys.operator);
    await requester.page.goto(`${h.baseUrl}/#/runs/${runId}`);
    const own = approvalSection(requester.page);
    await own.getByText('you cannot approve it').waitFor();
    await own.getByRole('list', { name: 'Approval plan' }).locator('[data-step="restore"]').waitFor();
    expect(await own.getByRole('button', { name: 'Approve', exact: true }).count()).toBe(0);
    await requester.page.screenshot({ path: path.join(ARTIFACTS, 'run-approval-requester.png'), fullPage: true });
    await expectAccessible(requester.page, 'run with a pending approval (requester)');
    await requester.context.close();

    const viewer = await signedIn(h.keys.viewer);
    await viewer.page.goto(`${h.baseUrl}/#/runs/${runId}`);
    const seen = approvalSection(viewer.page);
    await seen.getByRole('list', { name: 'Approval plan' }).locator('[data-step="restore"]').waitFor();
    expect(await seen.getByRole('button').count()).toBe(0);
    expect(await seen.getByLabel('Comment').count()).toBe(0);
    await viewer.context.close();

    const { context, page } = await signedIn(OLGA_KEY);
    await page.goto(`${h.baseUrl}/#/runs/${runId}`);
    const section = approvalSection(page);
    // Reject needs a comment: the API's 400 is shown as it came.
    await section.getByRole('button', { name: 'Reject' }).click();
    await section.getByRole('alert').filter({ hasText: 'INVALID_REQUEST' }).waitFor();
    await section.getByLabel('Comment').fill('wrong point in time');
    await section.getByRole('button', { name: 'Reject' }).click();
    await page.locator('h1 .badge.state-rejected').waitFor({ timeout: 60_000 });
    await section.locator('.card-head .badge.state-rejected').waitFor();
    expect(await section.getByRole('button').count()).toBe(0);
    const run = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(run.state).toBe('rejected');
    expect(run.error).toMatchObject({ code: 'APPROVAL_REJECTED', details: { rejectedBy: 'olga', comment: 'wrong point in time' } });
    expect(h.proxy.count(RESTORE)).toBe(1); // only the approved run's restore
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-approval-rejected.png'), fullPage: true });
    await context.close();
  }, 120_000);
});
