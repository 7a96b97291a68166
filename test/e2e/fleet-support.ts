import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddTagsToResourceCommand, CreateDBInstanceCommand, CreateDBSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { Client } from 'pg';
import { ROOT, type Harness } from '../support/runbookd';

/** The three accounts of the fleet tests: moto's default (the home account) and two reached by AssumeRole. */
export const HOME = '123456789012';
export const A2 = '222222222222';
export const A3 = '333333333333';
export const ACCOUNTS = [HOME, A2, A3];
export const REGIONS = ['eu-west-1', 'us-east-1'];

export const FLEET_ENV = {
  RUNBOOKD_ALLOWED_ACCOUNTS: ACCOUNTS.join(','),
  RUNBOOKD_ALLOWED_REGIONS: REGIONS.join(','),
  RUNBOOKD_ACCOUNT_ROLE_ARN: 'arn:aws:iam::{account}:role/runbookd',
};

/** A runbooks folder with the shipped runbooks a test names plus the fleet fixtures. */
export function runbooksDir(shipped: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-fleet-'));
  for (const id of shipped) copyFileSync(path.join(ROOT, 'runbooks', `${id}.yaml`), path.join(dir, `${id}.yaml`));
  const fixtures = path.join(ROOT, 'test', 'e2e', 'fixtures', 'fleet');
  for (const f of readdirSync(fixtures)) copyFileSync(path.join(fixtures, f), path.join(dir, f));
  return dir;
}

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** An RDS client acting in one account (moto keeps each account's resources apart). */
export function rdsIn(endpoint: string, account: string, region: string): RDSClient {
  const base = { region, endpoint, credentials: CREDS, maxAttempts: 2 };
  if (account === HOME) return new RDSClient(base);
  return new RDSClient({
    ...base,
    credentials: fromTemporaryCredentials({ params: { RoleArn: `arn:aws:iam::${account}:role/seed`, RoleSessionName: 'seed' }, clientConfig: base }),
  });
}

export interface SeededDb {
  account: string;
  region: string;
  id: string;
  arn: string;
  tags: Record<string, string>;
}

/**
 * One encrypted instance (30 days of backups kept), with a manual snapshot unless `snapshot` is
 * false. `'none'` leaves it with no backup at all: automated backups off, so moto makes no
 * automated snapshot either (a restore test of it must fail).
 */
export async function seedDb(endpoint: string, db: Omit<SeededDb, 'arn'>, snapshot: boolean | 'none' = true): Promise<SeededDb> {
  const rds = rdsIn(endpoint, db.account, db.region);
  try {
    const out = await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: db.id,
        DBInstanceClass: 'db.t3.micro',
        Engine: 'postgres',
        EngineVersion: '15.4',
        MasterUsername: 'app',
        MasterUserPassword: 'password1',
        AllocatedStorage: 20,
        StorageEncrypted: true,
        BackupRetentionPeriod: snapshot === 'none' ? 0 : 30,
        Tags: Object.entries(db.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    if (snapshot === true) await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: db.id, DBSnapshotIdentifier: `${db.id}-manual` }));
    return { ...db, arn: out.DBInstance!.DBInstanceArn! };
  } finally {
    rds.destroy();
  }
}

export async function tagDb(endpoint: string, db: SeededDb, tags: Record<string, string>): Promise<void> {
  const rds = rdsIn(endpoint, db.account, db.region);
  try {
    await rds.send(new AddTagsToResourceCommand({ ResourceName: db.arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
  } finally {
    rds.destroy();
  }
}

/** Rows of the test's own database, read directly (concurrency sampling, duplicate checks). */
export async function sql<T = Record<string, any>>(h: Harness, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: h.db.url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export interface ChildRow {
  id: string;
  dedupe_key: string;
  state: string;
  phase: string;
  parameters: Record<string, unknown>;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
}

export const childrenOf = (h: Harness, parent: string) =>
  sql<ChildRow>(h, 'SELECT id, dedupe_key, state, phase, parameters, created_at, started_at, ended_at FROM runs WHERE parent_run_id = $1 ORDER BY created_at', [
    parent,
  ]);

/** Samples how many children of a fleet have started and not ended, every `everyMs`, until stopped. */
export function sampleRunning(h: Harness, parent: string, everyMs = 100): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let stopped = false;
  const loop = (async () => {
    const c = new Client({ connectionString: h.db.url });
    await c.connect();
    try {
      while (!stopped) {
        const r = await c.query(`SELECT count(*)::int AS n FROM runs WHERE parent_run_id = $1 AND phase <> 'done'`, [parent]);
        samples.push(r.rows[0].n);
        await new Promise((res) => setTimeout(res, everyMs));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}
