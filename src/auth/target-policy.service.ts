import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { RunbookCatalog } from '../runbooks/runbook-catalog.service';
import { AuthError } from './auth.error';

const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/.+$/;

/**
 * Which AWS accounts, roles and regions runbookd may act in. A run's parameters name its targets
 * (`region`, `drRegion`, `roleArn`, ...), and a parameter pattern proves only that a value looks
 * like a role ARN, not that runbookd may act there: without this check anyone allowed to start a
 * run could aim runbookd's credentials at any account that trusts them (a confused deputy).
 *
 * Checked when a run is accepted, whatever started it, before anything is recorded or called.
 * Regions: RUNBOOKD_ALLOWED_REGIONS plus the configured AWS region plus every region a runbook's
 * parameter defaults name (so shipped runbooks work unconfigured). Roles: RUNBOOKD_ALLOWED_ROLE_ARNS
 * patterns when set; accounts: RUNBOOKD_ALLOWED_ACCOUNTS when set (a role's account must be one).
 */
@Injectable()
export class TargetPolicyService {
  private readonly logger = new Logger('TargetPolicy');
  private regions: Set<string> | null = null;
  private readonly rolePatterns: RegExp[];

  constructor(
    private readonly config: AppConfig,
    private readonly catalog: RunbookCatalog,
  ) {
    this.rolePatterns = config.scope.allowedRoleArns.map((p) => new RegExp(`^${p.split('*').map(escape).join('[^:]*')}$`));
    if (config.isProduction && config.scope.allowedAccounts.length === 0 && config.scope.allowedRoleArns.length === 0) {
      this.logger.warn('RUNBOOKD_ALLOWED_ACCOUNTS and RUNBOOKD_ALLOWED_ROLE_ARNS are unset: a run may assume any role its parameters name');
    }
  }

  /** Throws TARGET_NOT_ALLOWED naming the first parameter that points outside the allow-list. */
  check(runbookId: string, parameters: Record<string, unknown>): void {
    for (const [field, value] of targets(parameters, '')) {
      if (typeof value !== 'string' || value === '') continue;
      const role = ROLE_ARN.exec(value);
      if (role) {
        this.checkAccount(runbookId, field, role[1], value);
      } else if (/region$/i.test(field.split('.').pop() ?? '') && REGION.test(value)) {
        this.checkRegion(runbookId, field, value);
      } else if (/rolearn$/i.test(field.split('.').pop() ?? '')) {
        // The runbook's own pattern normally refuses this first; a runbook without one must not slip past.
        throw refused(runbookId, field, `"${value.slice(0, 100)}" is not an IAM role ARN`);
      }
    }
  }

  /**
   * An account a run acts in, and the role it assumes there (none: the default credentials).
   * A fleet checks each of its accounts here before it resolves anything.
   */
  checkAccount(runbookId: string, field: string, account: string, roleArn: string | null): void {
    if (this.config.scope.allowedAccounts.length > 0 && !this.config.scope.allowedAccounts.includes(account)) {
      throw refused(runbookId, field, `account ${account}${roleArn ? ` (role ${roleArn})` : ''} is not in RUNBOOKD_ALLOWED_ACCOUNTS`, { account });
    }
    if (roleArn && this.rolePatterns.length > 0 && !this.rolePatterns.some((p) => p.test(roleArn))) {
      throw refused(runbookId, field, `role ${roleArn} matches no RUNBOOKD_ALLOWED_ROLE_ARNS pattern`, { account });
    }
  }

  checkRegion(runbookId: string, field: string, region: string): void {
    if (!this.allowedRegions().has(region)) {
      throw refused(
        runbookId,
        field,
        `region ${region} is not one runbookd acts in (RUNBOOKD_ALLOWED_REGIONS: ${[...this.allowedRegions()].sort().join(', ')})`,
        { region },
      );
    }
  }

  private allowedRegions(): Set<string> {
    if (!this.regions) {
      this.regions = new Set([this.config.aws.region, ...this.config.scope.allowedRegions]);
      for (const loaded of this.catalog.list()) collectDefaultRegions(loaded.definition.parameters, this.regions);
    }
    return this.regions;
  }
}

/** Every (dotted path, value) in the parameters, arrays and nested objects included. */
function* targets(v: unknown, at: string): Generator<[string, unknown]> {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield* targets(v[i], `${at}[${i}]`);
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) yield* targets(x, at ? `${at}.${k}` : k);
  } else {
    yield [at, v];
  }
}

function collectDefaultRegions(schema: unknown, into: Set<string>): void {
  if (Array.isArray(schema)) {
    for (const s of schema) collectDefaultRegions(s, into);
  } else if (schema !== null && typeof schema === 'object') {
    const s = schema as Record<string, unknown>;
    if (typeof s.default === 'string' && REGION.test(s.default)) into.add(s.default);
    for (const x of Object.values(s)) if (x !== null && typeof x === 'object') collectDefaultRegions(x, into);
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function refused(runbookId: string, field: string, why: string, more: Record<string, unknown> = {}): AuthError {
  return new AuthError('TARGET_NOT_ALLOWED', `runbook ${runbookId} may not act there: ${why}`, { field, runbookId, ...more });
}
