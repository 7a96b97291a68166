import { isSecretKey, redact, REDACTED } from '../../src/common/redact';

describe('secret keys are judged by whole words', () => {
  it.each([
    'MasterUserPassword',
    'password',
    'db_password',
    'x-api-key',
    'apiKey',
    'APIKEY',
    'SessionToken',
    'SecretString',
    'authorization',
    'privateKey',
    'webhook.secret',
    'pass',
  ])('%s is a secret', (key) => expect(isSecretKey(key)).toBe(true));

  it.each(['passed', 'bypass', 'passengers', 'tokenizer', 'NextToken', 'ClientToken', 'AccessKeyId', 'keyName', 'secretariat_desk'])(
    '%s is not a secret',
    (key) => expect(isSecretKey(key)).toBe(false),
  );

  it('keeps a finding readable while hiding the secrets around it', () => {
    const out = redact({ findings: [{ id: 'switch-time', passed: true }], input: { MasterUserPassword: 'canary-7f3a', DBInstanceIdentifier: 'db-1' } });
    expect(out).toEqual({ findings: [{ id: 'switch-time', passed: true }], input: { MasterUserPassword: REDACTED, DBInstanceIdentifier: 'db-1' } });
  });
});
