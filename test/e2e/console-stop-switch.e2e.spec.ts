import * as path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { Harness, ROOT } from '../support/runbookd';

/**
 * The stop button in the web console, in Debian's Chromium against the real service: an admin
 * is asked why before anything stops, the red banner names who and why on every page and for
 * every role, a viewer gets no button, and Resume all lifts it.
 */

describe('stop-all in the web console', () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    h = await Harness.start({ role: 'all', seed: false, runbooksDir: path.join(ROOT, 'test', 'e2e', 'fixtures', 'sleep') });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  async function signedIn(key: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${h.baseUrl}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return page;
  }

  it('an admin stops everything only after giving a reason; everyone sees the red banner; the admin resumes', async () => {
    const admin = await signedIn(h.keys.admin);
    await admin.getByRole('button', { name: 'Stop all runs…' }).click();
    const submit = admin.getByRole('button', { name: 'Stop all runs', exact: true });
    // No reason, no stop: the button stays disabled and nothing changed on the service.
    expect(await submit.isDisabled()).toBe(true);
    expect((await h.request('GET', '/v1/stop-all')).body.stopped).toBe(false);
    await admin.getByLabel('Why stop everything?').fill('bad deploy in prod, hands off');
    await submit.click();
    const banner = admin.getByRole('alert').filter({ hasText: 'Everything is stopped' });
    await banner.waitFor();
    expect(await banner.textContent()).toContain('ada');
    expect(await banner.textContent()).toContain('bad deploy in prod, hands off');
    expect((await h.request('GET', '/v1/stop-all')).body).toMatchObject({ stopped: true, stoppedBy: 'ada', reason: 'bad deploy in prod, hands off' });

    // A viewer sees the same banner on signing in, and no button.
    const viewer = await signedIn(h.keys.viewer);
    const viewerBanner = viewer.getByRole('alert').filter({ hasText: 'Everything is stopped' });
    await viewerBanner.waitFor();
    expect(await viewerBanner.textContent()).toContain('bad deploy in prod, hands off');
    expect(await viewer.getByRole('button', { name: 'Resume all' }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: 'Stop all runs…' }).count()).toBe(0);

    // Starting a run from the page while stopped: refused by the service with its reason.
    const refused = await h.request('POST', '/v1/runbooks/sleepy/runs', { key: h.keys.operator, body: { parameters: {}, dryRun: true } });
    expect(refused.status).toBe(423);

    await admin.getByRole('button', { name: 'Resume all' }).click();
    await admin.getByRole('button', { name: 'Stop all runs…' }).waitFor();
    expect(await admin.getByRole('alert').filter({ hasText: 'Everything is stopped' }).count()).toBe(0);
    expect((await h.request('GET', '/v1/stop-all')).body.stopped).toBe(false);
  }, 120_000);
});
