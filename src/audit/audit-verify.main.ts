/**
 * The offline verifier: an auditor's own check of the audit log against the signed digests,
 * with nothing from the running service but its database (read only) and its public key.
 *
 *   node dist/audit/audit-verify.main.js --database-url postgres://... \
 *        --digests /var/lib/runbookd/audit-digests.jsonl | s3://bucket/prefix/ \
 *        --public-key runbookd-audit.pub.pem [--public-key retired.pub.pem] [--region eu-west-1] \
 *        [--record-key runbookd-audit-record.key]
 *   node dist/audit/audit-verify.main.js --print-public-key --signing-key runbookd-audit.pem
 *   node dist/audit/audit-verify.main.js --print-record-key --signing-key runbookd-audit.pem
 *
 * `--record-key` is the record verification key (base64, derived from the signing key): with it,
 * every record's MAC is checked, so a row runbookd did not write is named. It is symmetric: whoever
 * holds it can make MACs too, so keep it as a secret (docs/reliability.md says why HMAC).
 *
 * Prints the result as JSON. Exit status: 0 when nothing is wrong, 1 when a record or digest is
 * bad or the tail is missing, 2 when it could not run (bad arguments, database unreachable).
 * It never writes: records not yet sealed are counted, not sealed.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Clock } from '../common/clock';
import { PgDatabase } from '../persistence/pg.database';
import { randomBytes } from 'node:crypto';
import { AuditSigningKey } from './audit-digest';
import { AuditRecordMac } from './audit-record-mac';
import type { AuditDigestStore } from './audit-digest-store';
import { verifyAuditLog, type AuditVerifyInput } from './audit-verifier';
import { AuditRepository } from './audit.repository';
import { FileDigestStore } from './file-digest-store.adapter';
import { S3DigestStore } from './s3-digest-store.adapter';

interface Args {
  databaseUrl?: string;
  digests?: string;
  publicKeys: string[];
  region: string;
  endpoint?: string;
  printPublicKey: boolean;
  printRecordKey: boolean;
  signingKey?: string;
  recordKey?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { publicKeys: [], region: 'us-east-1', printPublicKey: false, printRecordKey: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--database-url') args.databaseUrl = value();
    else if (a === '--digests') args.digests = value();
    else if (a === '--public-key') args.publicKeys.push(value());
    else if (a === '--region') args.region = value();
    else if (a === '--s3-endpoint') args.endpoint = value();
    else if (a === '--print-public-key') args.printPublicKey = true;
    else if (a === '--signing-key') args.signingKey = value();
    else if (a === '--print-record-key') args.printRecordKey = true;
    else if (a === '--record-key') args.recordKey = value();
    else throw new UsageError(`unknown argument ${a}`);
  }
  return args;
}

class UsageError extends Error {}

function openStore(spec: string, args: Args): AuditDigestStore {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!s3) return new FileDigestStore(spec.replace(/^file:\/\//, ''));
  const prefix = s3[2] === '' || s3[2].endsWith('/') ? s3[2] : `${s3[2]}/`;
  return new S3DigestStore({ bucket: s3[1], prefix, region: args.region, endpoint: args.endpoint, retentionDays: 0, timeoutMs: 10_000 });
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
    if (args.printPublicKey) {
      if (!args.signingKey) throw new UsageError('--print-public-key needs --signing-key <private key PEM file>');
      process.stdout.write(AuditSigningKey.fromPem(readFileSync(args.signingKey, 'utf8')).publicKeyPem());
      return 0;
    }
    if (args.printRecordKey) {
      if (!args.signingKey) throw new UsageError('--print-record-key needs --signing-key <private key PEM file>');
      process.stdout.write(`${AuditSigningKey.fromPem(readFileSync(args.signingKey, 'utf8')).recordMac().exportKey()}\n`);
      return 0;
    }
    if (!args.databaseUrl || !args.digests || args.publicKeys.length === 0) {
      throw new UsageError('needs --database-url, --digests (file path or s3://bucket/prefix) and at least one --public-key');
    }
  } catch (err) {
    process.stderr.write(`audit-verify: ${(err as Error).message}\n`);
    return 2;
  }
  const keys: KeyObject[] = args.publicKeys.map((f) => createPublicKey(readFileSync(f, 'utf8')));
  let recordMac: AuditRecordMac | undefined;
  try {
    recordMac = args.recordKey === undefined ? undefined : AuditRecordMac.fromExported(readFileSync(args.recordKey, 'utf8'));
  } catch (err) {
    process.stderr.write(`audit-verify: --record-key: ${(err as Error).message}\n`);
    return 2;
  }
  const db = new PgDatabase(args.databaseUrl, 2);
  const store = openStore(args.digests, args);
  try {
    // The repository's own key only signs appends, which this never makes: a throwaway one will do.
    const repository = new AuditRepository(db, new Clock(), recordMac ?? AuditRecordMac.fromExported(randomBytes(32).toString('base64')));
    let storeInput: AuditVerifyInput['store'];
    try {
      storeInput = { description: store.description, entries: await store.readAll() };
    } catch (err) {
      storeInput = { description: store.description, error: `${(err as Error).name}: ${(err as Error).message}` };
    }
    const started = Date.now();
    const result = await verifyAuditLog({
      records: repository.iterateSealed(),
      store: storeInput,
      publicKeys: keys,
      pending: await repository.unpublishedDigests(false),
      unsealed: await repository.countUnsealed(),
      recordMac,
      authenticatedFrom: await repository.authenticatedFrom(),
      quarantined: await repository.quarantined(),
      unsealedRecords: await repository.unsealedAll(),
    });
    process.stdout.write(`${JSON.stringify({ ...result, elapsedMs: Date.now() - started }, null, 2)}\n`);
    return result.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`audit-verify: ${(err as Error).message}\n`);
    return 2;
  } finally {
    await db.close();
    if (store instanceof S3DigestStore) store.close();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
