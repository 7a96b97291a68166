import { Harness } from '../support/runbookd';

/**
 * A parameter pattern proves a value looks like a role ARN, not that runbookd may act there. With
 * the allow-list set, a run naming another account, role or region is refused with 403 before it
 * is recorded and before any AWS call (the recording proxy in front of moto sees none).
 */
describe('targets allow-list: accounts, roles and regions runbookd may act in', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      role: 'all',
      seed: false,
      env: { RUNBOOKD_ALLOWED_ACCOUNTS: '123456789012', RUNBOOKD_ALLOWED_ROLE_ARNS: 'arn:aws:iam::123456789012:role/runbookd-*' },
    });
  });
  afterAll(async () => h?.close());

  const runs = async () => (await h.request('GET', '/v1/runs?limit=200')).body.items as any[];

  it('refuses another account, an unlisted role and an unlisted region with 403 naming the field; nothing recorded, no AWS call', async () => {
    const before = (await runs()).length;
    h.proxy.clear();
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['other account', 'failover-test', { clusterIdentifier: 'orders-aurora', roleArn: 'arn:aws:iam::999999999999:role/runbookd-drill' }, 'roleArn'],
      ['unlisted role', 'failover-test', { clusterIdentifier: 'orders-aurora', roleArn: 'arn:aws:iam::123456789012:role/Administrator' }, 'roleArn'],
      ['unlisted region', 'capacity-report', { region: 'us-west-2' }, 'region'],
      ['unlisted region in a nested default-overriding field', 'backup-verification', { dbInstanceIdentifier: 'orders-db', drRegion: 'sa-east-1' }, 'drRegion'],
    ];
    for (const [what, runbook, parameters, field] of cases) {
      const res = await h.request('POST', `/v1/runbooks/${runbook}/runs`, { key: h.keys.operator, body: { parameters } });
      expect({ what, status: res.status, code: res.body.error?.code, field: res.body.error?.details?.field }).toEqual({
        what,
        status: 403,
        code: 'TARGET_NOT_ALLOWED',
        field,
      });
    }
    expect(h.proxy.calls()).toEqual([]);
    expect((await runs()).length).toBe(before);
    const audit = (await h.request('GET', '/v1/audit?limit=500')).body.items.filter((r: any) => r.kind === 'run.accepted');
    expect(audit).toEqual([]);
  });

  it('accepts a listed role in the configured region, in a session named after the run that carries the actor (CloudTrail: who did this)', async () => {
    const sessions: string[] = [];
    h.proxy.onRequest('AssumeRole', (info) => {
      sessions.push(info.body.toString('utf8'));
    });
    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', {
      key: h.keys.operator,
      body: { parameters: { region: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/runbookd-capacity' } },
    });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    for (const body of sessions) {
      const form = new URLSearchParams(body);
      expect(form.get('RoleSessionName')).toBe(`runbookd-${res.body.id}`);
      expect(form.get('SourceIdentity')).toBe('otto');
    }
  });

  it('scopes an Idempotency-Key to its caller: another key reusing it starts its own run and never sees the first', async () => {
    const body = { dryRun: true, parameters: { region: 'eu-west-1' } };
    const headers = { 'Idempotency-Key': `shared-${Date.now()}` };
    const mine = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: h.keys.operator, body, headers });
    const theirs = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: h.keys.admin, body, headers });
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    expect(theirs.body.id).not.toBe(mine.body.id);
    const again = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: h.keys.operator, body, headers });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(mine.body.id);
  });
});
