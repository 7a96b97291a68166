import { ConfigError, loadConfig } from '../../src/config/app.config';

describe('fleet configuration', () => {
  it('reads the account role template and the target limit', () => {
    const c = loadConfig({ RUNBOOKD_ACCOUNT_ROLE_ARN: 'arn:aws:iam::{account}:role/runbookd', RUNBOOKD_FLEET_MAX_TARGETS: '200' });
    expect(c.fleets.accountRoleArnTemplate).toBe('arn:aws:iam::{account}:role/runbookd');
    expect(c.fleets.maxTargets).toBe(200);
    expect(loadConfig({}).fleets.accountRoleArnTemplate).toBeUndefined();
  });

  it('refuses a template that is not a role ARN with {account} as its account', () => {
    for (const t of ['arn:aws:iam::111111111111:role/runbookd', 'arn:aws:iam::{account}:user/runbookd', 'runbookd-{account}', 'arn:aws:iam::{account}:role/']) {
      expect(() => loadConfig({ RUNBOOKD_ACCOUNT_ROLE_ARN: t })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ RUNBOOKD_ACCOUNT_ROLE_ARN: 'arn:aws:iam::{account}:role/ops/runbookd-{account}' })).not.toThrow();
  });
});
