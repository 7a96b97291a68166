import { Injectable, Logger } from '@nestjs/common';
import pLimit from 'p-limit';
import { AuditRepository } from '../audit/audit.repository';
import { AuditService } from '../audit/audit.service';
import type { AwsCallContext } from '../aws/aws-call.types';
import { mergeTallies, type CallTally } from '../aws/call-tally';
import { ResilienceEstateAdapter, type RdsPostureSubject, type RdsSnapshotSummary } from '../aws/resilience-estate.adapter';
import { Clock } from '../common/clock';
import { AppConfig, ConfigError } from '../config/app.config';
import { FleetTargetsService } from './fleet-targets.service';
import { ResilienceEvidenceRepository, type EvidenceRunRow } from '../persistence/resilience-evidence.repository';
import { loadResiliencePolicy, ResiliencePolicyFileError } from '../resilience/resilience-policy-file';
import type { ResiliencePolicy } from '../resilience/resilience-policy.types';
import {
  evidenceKey,
  postureOf,
  postureOrder,
  type EstateResource,
  type EvidenceKind,
  type ResourcePosture,
  type RunEvidence,
  type Verdict,
} from '../resilience/resilience-posture';

/** Account × region pairs read at once: enough to hide latency, few enough for one account's RDS quota. */
const READ_PARALLELISM = 8;

/** Which recorded runbooks are evidence of what, and the finding that carries the measured time. */
export const EVIDENCE_RUNBOOKS: Readonly<Record<string, { kind: EvidenceKind; finding: string }>> = {
  'backup-verification': { kind: 'restore', finding: 'rto' },
  'point-in-time-restore': { kind: 'pitr', finding: 'rto' },
  'failover-test': { kind: 'failover', finding: 'switch-time' },
};

export interface AuditHead {
  /** Records in the log when the posture was made, and the chain head's hash. */
  seq: number;
  hash: string | null;
  /** The newest signed digest and the chain position it covers: evidence at or below it is anchored. */
  digest: { number: number; position: number } | null;
}

export interface ResiliencePostureView {
  generatedAt: string;
  auditHead: AuditHead;
  policy: string | null;
  searched: Array<{ account: string; region: string; resources: number }>;
  calls: CallTally;
  resources: ResourcePosture[];
}

export interface PostureFilter {
  tier?: string;
  account?: string;
  verdict?: Verdict | 'untiered';
}

/**
 * Posture per resource: reads the estate (RDS instances and clusters in every account and region
 * of the policy's scope, reached the way a fleet reaches them), the newest evidence run per
 * resource, and holds each against its tier. One posture is served for RUNBOOKD_RESILIENCE_CACHE_SECONDS:
 * the console, the API and /metrics ask often, AWS is asked seldom.
 */
@Injectable()
export class ResiliencePostureService {
  private readonly logger = new Logger('Resilience');
  readonly policy: ResiliencePolicy | null;
  private cached: { at: number; view: Promise<ResiliencePostureView> } | null = null;
  private last: ResiliencePostureView | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly targets: FleetTargetsService,
    private readonly estate: ResilienceEstateAdapter,
    private readonly evidence: ResilienceEvidenceRepository,
    private readonly audit: AuditService,
    private readonly auditRecords: AuditRepository,
    private readonly clock: Clock,
  ) {
    try {
      this.policy = loadResiliencePolicy(config.resilience.policyFile);
    } catch (err) {
      if (err instanceof ResiliencePolicyFileError) throw new ConfigError(err.problems.map((p) => `RUNBOOKD_RESILIENCE_POLICY ${p}`));
      throw err;
    }
    if (this.policy)
      this.logger.log(
        `resilience policy from ${this.policy.source}: tiers ${Object.keys(this.policy.tiers).join(', ')}, ${this.policy.assignments.length} assignment(s)`,
      );
  }

  /** The posture, filtered; computed anew when the cached one is older than the cache allows. */
  async posture(actor: string, filter: PostureFilter = {}): Promise<ResiliencePostureView> {
    const now = this.clock.nowMs();
    if (!this.cached || now - this.cached.at >= this.config.resilience.cacheSeconds * 1000) {
      const entry = { at: now, view: this.compute(actor) };
      this.cached = entry;
      // A failed read is not kept: the next request asks AWS again.
      entry.view.then((v) => (this.last = v)).catch(() => this.cached === entry && (this.cached = null));
    }
    const view = await this.cached.view;
    return { ...view, resources: view.resources.filter((r) => matches(r, filter)) };
  }

  /** The posture last computed, for /metrics (which never waits on AWS); a refresh is started when it is due. */
  latest(): ResiliencePostureView | null {
    if (this.policy) this.posture('metrics').catch((err: Error) => this.logger.warn(`resilience posture not computed: ${err.message}`));
    return this.last;
  }

  async compute(actor: string): Promise<ResiliencePostureView> {
    const now = this.clock.now();
    const ctx: AwsCallContext = {
      runId: '',
      runbookId: 'resilience-posture',
      stepId: 'posture',
      actor,
      dryRun: true,
      expiresAt: new Date(now.getTime() + 3_600_000),
    };
    const scope = this.policy?.scope ?? { accounts: [], regions: [] };
    const { homeAccount, places } = await this.targets.reach('resilience-posture', scope.accounts, scope.regions, ctx);
    const limit = pLimit(READ_PARALLELISM);
    const read = await Promise.all(
      places.map((p) =>
        limit(async () => {
          const tally: CallTally = {};
          const target = { region: p.region, ...(p.roleArn ? { roleArn: p.roleArn } : {}) };
          const [subjects, snapshots] = await Promise.all([this.estate.subjects(ctx, target, tally), this.estate.snapshots(ctx, target, tally)]);
          return { ...p, subjects, snapshots, tally };
        }),
      ),
    );
    const [runs, head, digest] = await Promise.all([
      this.evidence.newestRuns(Object.keys(EVIDENCE_RUNBOOKS)),
      this.audit.head(),
      this.auditRecords.lastDigest(),
    ]);
    const evidence = evidenceByResource(runs, homeAccount, this.config.aws.region);
    const resources = rdsResources(read).map((r) => postureOf(this.policy, r, evidence, now));
    resources.sort(postureOrder);
    return {
      generatedAt: now.toISOString(),
      auditHead: { seq: head.seq, hash: head.hash, digest: digest ? { number: digest.number, position: digest.position } : null },
      policy: this.policy?.source ?? null,
      searched: read.map((p) => ({ account: p.account, region: p.region, resources: p.subjects.filter((s) => !s.clusterIdentifier).length })),
      calls: mergeTallies(...read.map((p) => p.tally)),
      resources,
    };
  }
}

function matches(r: ResourcePosture, f: PostureFilter): boolean {
  if (f.tier !== undefined && (f.tier === 'untiered' ? r.tier !== null : r.tier !== f.tier)) return false;
  if (f.account !== undefined && r.account !== f.account) return false;
  if (f.verdict !== undefined) {
    if (f.verdict === 'untiered') return r.verdict === 'untiered';
    return r.objectives.some((o) => o.verdict === f.verdict);
  }
  return true;
}

interface PlaceRead {
  account: string;
  region: string;
  subjects: RdsPostureSubject[];
  snapshots: RdsSnapshotSummary[];
}

/**
 * Instances and clusters with their newest recovery point and whether a copy exists in another
 * region of the scope (a copied snapshot keeps its source's identifier). An Aurora cluster's
 * member instances are not resources of their own: their backups are the cluster's.
 */
export function rdsResources(read: readonly PlaceRead[]): EstateResource[] {
  const newest = new Map<string, RdsSnapshotSummary>();
  const regionsWithCopy = new Map<string, Set<string>>();
  for (const p of read) {
    for (const s of p.snapshots) {
      const key = `${p.account}\u0000${p.region}\u0000${s.kind}\u0000${s.sourceIdentifier}`;
      const known = newest.get(key);
      if (!known || known.createdAt < s.createdAt) newest.set(key, s);
      const byAccount = `${p.account}\u0000${s.kind}\u0000${s.sourceIdentifier}`;
      if (!regionsWithCopy.has(byAccount)) regionsWithCopy.set(byAccount, new Set());
      regionsWithCopy.get(byAccount)!.add(p.region);
    }
  }
  const out: EstateResource[] = [];
  for (const p of read) {
    for (const s of p.subjects) {
      if (s.kind === 'instance' && s.clusterIdentifier) continue;
      const snap = newest.get(`${p.account}\u0000${p.region}\u0000${s.kind}\u0000${s.identifier}`);
      // With retention 0 there are no automated backups, so no point-in-time recovery, whatever time AWS prints.
      const pitr = s.backupRetentionDays === null ? null : s.backupRetentionDays > 0;
      const restorable = pitr ? s.latestRestorableTime : null;
      let point: EstateResource['newestRecoveryPoint'] = null;
      if (restorable && (!snap || snap.createdAt <= restorable)) point = { at: restorable, source: 'latest restorable time' };
      else if (snap) point = { at: snap.createdAt, source: `${snap.type || 'snapshot'} snapshot ${snap.identifier}` };
      const copies = regionsWithCopy.get(`${p.account}\u0000${s.kind}\u0000${s.identifier}`);
      out.push({
        arn: s.arn,
        account: p.account,
        region: p.region,
        type: s.kind === 'cluster' ? 'rds:cluster' : 'rds:db',
        id: s.identifier,
        tags: s.tags,
        facts: {
          multiAz: s.multiAz,
          pitr,
          pitrWindowSeconds:
            pitr && s.latestRestorableTime && s.earliestRestorableTime
              ? Math.round((Date.parse(s.latestRestorableTime) - Date.parse(s.earliestRestorableTime)) / 1000)
              : null,
          encryption: s.encrypted,
          deletionProtection: s.deletionProtection,
          backupRetentionDays: s.backupRetentionDays,
          crossRegionCopy: [...(copies ?? [])].some((r) => r !== p.region),
        },
        newestRecoveryPoint: point,
      });
    }
  }
  return out;
}

/** The newest run per kind and resource; the resource's ARN is made from the run's own parameters. */
export function evidenceByResource(runs: readonly EvidenceRunRow[], homeAccount: string, defaultRegion: string): Map<string, RunEvidence> {
  const out = new Map<string, RunEvidence>();
  for (const run of runs) {
    const spec = EVIDENCE_RUNBOOKS[run.runbookId];
    const arn = spec && subjectArn(run.parameters, homeAccount, defaultRegion);
    if (!spec || !arn) continue;
    const key = evidenceKey(spec.kind, arn);
    const known = out.get(key);
    if (known && known.endedAt >= run.endedAt) continue;
    out.set(key, {
      kind: spec.kind,
      arn,
      runId: run.runId,
      runbookId: run.runbookId,
      state: run.state,
      endedAt: run.endedAt,
      measuredSeconds: measuredSeconds(run.findings, spec.finding),
    });
  }
  return out;
}

export function subjectArn(p: Record<string, unknown>, homeAccount: string, defaultRegion: string): string | null {
  const role = typeof p.roleArn === 'string' ? /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(p.roleArn) : null;
  const account = role ? role[1] : homeAccount;
  const region = typeof p.region === 'string' && p.region ? p.region : defaultRegion;
  if (typeof p.clusterIdentifier === 'string' && p.clusterIdentifier) return `arn:aws:rds:${region}:${account}:cluster:${p.clusterIdentifier}`;
  if (typeof p.dbInstanceIdentifier === 'string' && p.dbInstanceIdentifier) return `arn:aws:rds:${region}:${account}:db:${p.dbInstanceIdentifier}`;
  if (typeof p.tableName === 'string' && p.tableName) return `arn:aws:dynamodb:${region}:${account}:table/${p.tableName}`;
  return null;
}

const UNIT_TO_SECONDS: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600 };

function measuredSeconds(findings: readonly unknown[], id: string): number | null {
  for (const f of findings) {
    if (!f || typeof f !== 'object') continue;
    const x = f as Record<string, unknown>;
    if (x.id !== id || typeof x.measured !== 'number' || !Number.isFinite(x.measured)) continue;
    const factor = UNIT_TO_SECONDS[typeof x.unit === 'string' ? x.unit : 's'] ?? 1;
    return Math.round(x.measured * factor * 1000) / 1000;
  }
  return null;
}
