import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { seedBackups } from '../../scripts/sandbox/seed-backups';
import { Harness, REGION, ROOT } from '../support/runbookd';

/**
 * Resilience posture through the real service (PostgreSQL, Redis, moto): a backup-verification
 * run on the sandbox's billing-postgres is the evidence; GET /v1/resilience names that run for
 * the restore objective, filters refuse bad values with 400, /metrics counts the verdicts, and the
 * console's Resilience page (Debian's Chromium) lists the estate worst first with links to the runs.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts', 'console');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ACCOUNT = '123456789012';

describe('resilience posture (API, metrics, console)', () => {
  let h: Harness;
  let browser: Browser;
  let runId: string;

  beforeAll(async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    await mkdir(ARTIFACTS, { recursive: true });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-resilience-e2e-'));
    const policy = path.join(dir, 'resilience.yaml');
    writeFileSync(
      policy,
      `
tiers:
  critical: { rpo: 15m, rto: 4h, restoreVerifiedWithin: 31d, failoverTestedWithin: 92d, require: [encryption] }
  standard: { rpo: 24h, rto: 8h, restoreVerifiedWithin: 92d }
assignments:
  - { tier: critical, resources: ["arn:aws:rds:${REGION}:${ACCOUNT}:db:billing-postgres"] }
  - { tier: standard, tags: { team: orders } }
`,
    );
    h = await Harness.start({ role: 'all', env: { RUNBOOKD_RESILIENCE_POLICY: policy, RUNBOOKD_RESILIENCE_CACHE_SECONDS: '0' } });
    await seedBackups({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const res = await h.request('POST', '/v1/runbooks/backup-verification/runs', {
      key: h.keys.operator,
      body: { parameters: { dbInstanceIdentifier: 'billing-postgres', pollSeconds: 0.2 } },
    });
    expect(res.status).toBe(202);
    runId = res.body.id;
    expect((await h.waitForRun(runId)).state).toBe('succeeded');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('serves the posture with the run that proved the restore, the audit head and the list calls it cost', async () => {
    const res = await h.request('GET', '/v1/resilience', { key: h.keys.viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ generatedAt: expect.any(String), auditHead: { seq: expect.any(Number), hash: expect.any(String) } });
    const billing = res.body.resources.find((r: any) => r.id === 'billing-postgres');
    expect(billing).toMatchObject({
      arn: `arn:aws:rds:${REGION}:${ACCOUNT}:db:billing-postgres`,
      account: ACCOUNT,
      region: REGION,
      type: 'rds:db',
      tier: 'critical',
    });
    const objectives = Object.fromEntries(billing.objectives.map((o: any) => [o.objective, o]));
    expect(objectives['restore-verified']).toMatchObject({ verdict: 'met', evidenceRunId: runId, target: 14_400, unit: 's' });
    expect(typeof objectives['restore-verified'].measured).toBe('number');
    expect(objectives['failover-tested']).toMatchObject({ verdict: 'no-evidence', evidenceRunId: null });
    // The Aurora cluster is tiered by its tag; its member instances are not listed of their own.
    const aurora = res.body.resources.find((r: any) => r.id === 'orders-aurora');
    expect(aurora).toMatchObject({ type: 'rds:cluster', tier: 'standard' });
    expect(res.body.resources.some((r: any) => r.id === 'orders-aurora-1')).toBe(false);
    // The restored copy was deleted: it is not in the estate.
    expect(res.body.resources.some((r: any) => String(r.id).startsWith('rbd-'))).toBe(false);
    expect(Object.keys(res.body.calls).every((op) => /^rds:Describe(DBInstances|DBClusters|DBSnapshots|DBClusterSnapshots)$/.test(op))).toBe(true);
    // Worst first.
    const rank = (v: string) => ['breached', 'stale', 'no-evidence', 'met', 'untiered'].indexOf(v);
    const ranks = res.body.resources.map((r: any) => rank(r.verdict));
    expect(ranks).toEqual([...ranks].sort((a: number, b: number) => a - b));

    expect((await h.request('GET', '/v1/resilience?tier=critical')).body.resources.map((r: any) => r.id)).toEqual(['billing-postgres']);
    expect((await h.request('GET', `/v1/resilience?account=${ACCOUNT}&verdict=untiered`)).body.resources.every((r: any) => r.tier === null)).toBe(true);
  });

  it('refuses bad filters with 400 naming the field, and needs a key', async () => {
    for (const [q, field] of [
      ['tier=gold', 'tier'],
      ['account=12', 'account'],
      ['verdict=fine', 'verdict'],
    ]) {
      const res = await h.request('GET', `/v1/resilience?${q}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', details: { field } });
    }
    expect((await h.request('GET', '/v1/resilience', { key: null })).status).toBe(401);
  });

  it('counts verdicts in /metrics by tier, objective and verdict', async () => {
    await h.request('GET', '/v1/resilience');
    const text = (await h.request('GET', '/metrics')).text;
    expect(text).toMatch(/runbookd_resilience_objectives\{tier="critical",objective="restore-verified",verdict="met"\} 1/);
    expect(text).toMatch(/runbookd_resilience_objectives\{tier="critical",objective="failover-tested",verdict="no-evidence"\} 1/);
  });

  it('shows the Resilience page: worst first, filters in the URL, a link to the evidence run', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${h.baseUrl}/`);
    await page.getByLabel('API key').fill(h.keys.viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Resilience' }).click();
    const row = page.locator(`tr[data-resource="arn:aws:rds:${REGION}:${ACCOUNT}:db:billing-postgres"]`);
    await row.waitFor();
    expect(await row.locator('[data-objective="restore-verified"] .badge').textContent()).toBe('met');
    expect(await row.locator('[data-objective="failover-tested"] .badge').textContent()).toBe('no-evidence');
    const badges = await page.locator('tbody tr > td[data-label="Verdict"] .badge').allTextContents();
    const rank = (v: string) => ['breached', 'stale', 'no-evidence', 'met', 'untiered'].indexOf(v);
    expect(badges.map(rank)).toEqual([...badges.map(rank)].sort((a, b) => a - b));
    await page.screenshot({ path: path.join(ARTIFACTS, 'resilience.png'), fullPage: true });
    await page.evaluate(`${AXE}\n;undefined`);
    const serious = await page.evaluate<unknown[]>(
      `axe.run(document, { iframes: false, resultTypes: ['violations'] }).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id))`,
    );
    expect(serious).toEqual([]);

    await page.getByLabel('Tier').selectOption('critical');
    await page.waitForURL(/#\/resilience\?tier=critical$/);
    await page.locator('tbody tr[data-resource]').first().waitFor();
    await eventuallyCount(page, 1);

    await row.getByRole('link', { name: `run ${runId}` }).click();
    await page.waitForURL(new RegExp(`#/runs/${runId}$`));
    await page.getByRole('heading', { level: 1 }).waitFor();
    await context.close();
  });
});

async function eventuallyCount(page: import('playwright-core').Page, n: number): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll('tbody tr[data-resource]').length === ${n}`);
}
