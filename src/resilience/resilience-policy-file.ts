import * as fs from 'node:fs';
import { parseDocument } from 'yaml';
import { CONFIG_FACTS, type ConfigFact, type ResiliencePolicy, type ResilienceTier, type TierAssignment } from './resilience-policy.types';

/** A resilience policy that cannot be used: every problem, each naming the file, the path in it and why. */
export class ResiliencePolicyFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`the resilience policy is not usable:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ResiliencePolicyFileError';
  }
}

const TOP_LEVEL = ['version', 'scope', 'tierTag', 'tiers', 'assignments'];
const TIER_FIELDS = ['rpo', 'rto', 'restoreVerifiedWithin', 'failoverTestedWithin', 'pitrDrillWithin', 'require', 'minBackupRetention'];
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const TIER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ARN = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]+:\d{12}:.+$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };

/**
 * "15m", "1h30m", "31d", "2w" → seconds. Anything else (a bare number, "1.5h", "15 min", 0) is
 * undefined: a unit-less number in a policy is the kind of mistake that makes an RPO of 15 seconds.
 */
export function parsePolicyDuration(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!/^(\d+[wdhms])+$/.test(text)) return undefined;
  let total = 0;
  let lastUnit = Infinity;
  for (const m of text.matchAll(/(\d+)([wdhms])/g)) {
    const unit = UNIT_SECONDS[m[2]];
    // "30m1h" is a typo, not a duration: units go from largest to smallest, each once.
    if (unit >= lastUnit) return undefined;
    lastUnit = unit;
    total += Number(m[1]) * unit;
  }
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** The policy file RUNBOOKD_RESILIENCE_POLICY names; null when it names none (posture then lists every resource untiered). */
export function loadResiliencePolicy(file: string | undefined): ResiliencePolicy | null {
  if (file === undefined) return null;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ResiliencePolicyFileError([`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  return parseResiliencePolicy(text, file);
}

export function parseResiliencePolicy(text: string, source: string): ResiliencePolicy {
  const problems: string[] = [];
  const at = (path: string, why: string) => problems.push(`${source}: ${path}: ${why}`);
  const doc = parseDocument(text, { uniqueKeys: true });
  for (const e of doc.errors) at('(yaml)', e.message.split('\n')[0]);
  if (doc.errors.length > 0) throw new ResiliencePolicyFileError(problems);
  const raw: unknown = doc.toJS();
  if (!isObject(raw)) throw new ResiliencePolicyFileError([`${source}: (top level): must be a mapping with ${TOP_LEVEL.join(', ')}`]);
  for (const k of Object.keys(raw)) if (!TOP_LEVEL.includes(k)) at(k, `unknown field (known: ${TOP_LEVEL.join(', ')})`);
  if (raw.version !== undefined && raw.version !== 1) at('version', 'must be 1');

  const policy: ResiliencePolicy = { source, tiers: {}, tierTag: null, assignments: [], scope: { accounts: [], regions: [] } };

  if (raw.scope !== undefined) {
    if (!isObject(raw.scope)) at('scope', 'must be a mapping with accounts and/or regions');
    else {
      for (const k of Object.keys(raw.scope)) if (k !== 'accounts' && k !== 'regions') at(`scope.${k}`, 'unknown field (known: accounts, regions)');
      policy.scope.accounts = strings(raw.scope.accounts, 'scope.accounts', at, (v) => ACCOUNT.test(v) || 'is not a 12-digit account id');
      policy.scope.regions = strings(raw.scope.regions, 'scope.regions', at, (v) => REGION.test(v) || 'is not a region code such as eu-west-1');
    }
  }

  if (raw.tierTag !== undefined && raw.tierTag !== null) {
    if (typeof raw.tierTag !== 'string' || raw.tierTag.trim() === '' || raw.tierTag.length > 128) at('tierTag', 'must be a tag key (at most 128 characters)');
    else policy.tierTag = raw.tierTag;
  }

  if (!isObject(raw.tiers) || Object.keys(raw.tiers).length === 0) {
    at(
      'tiers',
      'is required: a mapping of tier name to { rpo, rto, restoreVerifiedWithin, failoverTestedWithin, pitrDrillWithin, require, minBackupRetention }',
    );
  } else {
    for (const [name, t] of Object.entries(raw.tiers)) {
      const tier = parseTier(name, t, `tiers.${name}`, at);
      if (tier) policy.tiers[name] = tier;
    }
  }

  if (raw.assignments !== undefined) {
    if (!Array.isArray(raw.assignments)) at('assignments', 'must be a list of { tier, tags | accounts | resources }');
    else
      raw.assignments.forEach((a, i) => {
        const rule = parseAssignment(a, `assignments[${i}]`, raw.tiers, at);
        if (rule) policy.assignments.push(rule);
      });
  }
  if (policy.tierTag === null && policy.assignments.length === 0 && isObject(raw.tiers)) {
    at('assignments', 'no tier can be assigned: give tierTag, assignments, or both');
  }
  for (const clash of overlaps(policy)) at(clash.path, clash.why);

  if (problems.length > 0) throw new ResiliencePolicyFileError(problems);
  return policy;
}

function parseTier(name: string, t: unknown, p: string, at: (p: string, why: string) => void): ResilienceTier | null {
  if (!TIER_NAME.test(name)) at(p, 'a tier name is lower-case letters, digits, _ and - (at most 63)');
  if (!isObject(t)) {
    at(p, 'must be a mapping with rpo and rto');
    return null;
  }
  for (const k of Object.keys(t)) if (!TIER_FIELDS.includes(k)) at(`${p}.${k}`, `unknown field (known: ${TIER_FIELDS.join(', ')})`);
  const duration = (field: string, required: boolean): number | null => {
    const v = t[field];
    if (v === undefined || v === null) {
      if (required) at(`${p}.${field}`, 'is required: a duration such as 15m, 4h or 31d');
      return null;
    }
    const s = parsePolicyDuration(v);
    if (s === undefined) {
      at(`${p}.${field}`, `"${String(v).slice(0, 50)}" is not a duration (a number with a unit, largest first: 90s, 15m, 1h30m, 31d, 2w)`);
      return null;
    }
    return s;
  };
  const rpo = duration('rpo', true);
  const rto = duration('rto', true);
  const require = strings(
    t.require,
    `${p}.require`,
    at,
    (v) => (CONFIG_FACTS as readonly string[]).includes(v) || `is not a configuration fact (${CONFIG_FACTS.join(', ')})`,
  ) as ConfigFact[];
  const retention = duration('minBackupRetention', false);
  if (retention !== null && retention % 86_400 !== 0) at(`${p}.minBackupRetention`, 'must be whole days (7d): AWS keeps backups by the day');
  return {
    name,
    rpoSeconds: rpo ?? 0,
    rtoSeconds: rto ?? 0,
    restoreVerifiedWithinSeconds: duration('restoreVerifiedWithin', false),
    failoverTestedWithinSeconds: duration('failoverTestedWithin', false),
    pitrDrillWithinSeconds: duration('pitrDrillWithin', false),
    require: [...new Set(require)],
    minBackupRetentionDays: retention === null ? null : retention / 86_400,
  };
}

function parseAssignment(a: unknown, p: string, tiers: unknown, at: (p: string, why: string) => void): TierAssignment | null {
  if (!isObject(a)) {
    at(p, 'must be a mapping with tier and one of tags, accounts, resources');
    return null;
  }
  for (const k of Object.keys(a))
    if (!['tier', 'tags', 'accounts', 'resources'].includes(k)) at(`${p}.${k}`, 'unknown field (known: tier, tags, accounts, resources)');
  const tier = a.tier;
  if (typeof tier !== 'string' || !isObject(tiers) || !(tier in tiers)) {
    at(`${p}.tier`, `must name a tier of tiers (${isObject(tiers) ? Object.keys(tiers).join(', ') : 'none'})`);
    return null;
  }
  const kinds = (['tags', 'accounts', 'resources'] as const).filter((k) => a[k] !== undefined);
  if (kinds.length !== 1) {
    at(p, 'give exactly one of tags, accounts or resources (a rule matching by two would make its precedence a guess)');
    return null;
  }
  const kind = kinds[0];
  if (kind === 'tags') {
    if (!isObject(a.tags) || Object.keys(a.tags).length === 0) {
      at(`${p}.tags`, 'must map tag keys to one value each ({ "runbookd:tier": gold })');
      return null;
    }
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(a.tags)) {
      if (typeof v !== 'string' && typeof v !== 'number') at(`${p}.tags.${k}`, 'must be one value (a string)');
      else tags[k] = String(v);
    }
    return { kind, tier, tags, path: p };
  }
  if (kind === 'accounts') {
    const accounts = strings(a.accounts, `${p}.accounts`, at, (v) => ACCOUNT.test(v) || 'is not a 12-digit account id');
    if (accounts.length === 0) at(`${p}.accounts`, 'must list at least one account');
    return { kind, tier, accounts, path: p };
  }
  const resources = strings(a.resources, `${p}.resources`, at, (v) => ARN.test(v) || 'is not a resource ARN (arn:aws:rds:<region>:<account>:db:<name>)');
  if (resources.length === 0) at(`${p}.resources`, 'must list at least one ARN');
  return { kind, tier, resources, path: p };
}

/**
 * Two rules of one kind that could put one resource in two different tiers. Rules of different
 * kinds never clash: the more specific kind wins (resources, then tag rules, then the tier tag,
 * then accounts); a tag rule that names the tier tag itself with another tier is a clash. Two tag
 * rules are disjoint only when they ask one key for different values; otherwise a resource
 * carrying both sets of tags would match both.
 */
function overlaps(policy: ResiliencePolicy): Array<{ path: string; why: string }> {
  const out: Array<{ path: string; why: string }> = [];
  const tagRules: Array<{ tier: string; tags: Record<string, string>; path: string }> = [];
  const byAccount = new Map<string, { tier: string; path: string }>();
  const byArn = new Map<string, { tier: string; path: string }>();
  for (const rule of policy.assignments) {
    if (rule.kind === 'tags') {
      const tagged = policy.tierTag === null ? undefined : rule.tags[policy.tierTag];
      if (tagged !== undefined && tagged !== rule.tier && tagged in policy.tiers) {
        out.push({
          path: rule.path,
          why: `overlapping assignment: a resource tagged ${policy.tierTag}=${tagged} is in tier ${tagged} by tierTag, and this rule puts it in tier ${rule.tier}`,
        });
      }
      for (const other of tagRules) {
        if (other.tier === rule.tier) continue;
        const disjoint = Object.entries(rule.tags).some(([k, v]) => k in other.tags && other.tags[k] !== v);
        if (!disjoint) {
          out.push({
            path: rule.path,
            why: `overlapping assignment: a resource tagged ${tagText({ ...other.tags, ...rule.tags })} would be in tier ${rule.tier} and, by ${other.path}, in tier ${other.tier}`,
          });
        }
      }
      tagRules.push(rule);
    } else {
      const seen = rule.kind === 'accounts' ? byAccount : byArn;
      for (const key of rule.kind === 'accounts' ? rule.accounts : rule.resources) {
        const other = seen.get(key);
        if (other && other.tier !== rule.tier)
          out.push({ path: rule.path, why: `overlapping assignment: ${key} is put in tier ${rule.tier} here and in tier ${other.tier} by ${other.path}` });
        else if (!other) seen.set(key, { tier: rule.tier, path: rule.path });
      }
    }
  }
  return out;
}

function tagText(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function strings(v: unknown, p: string, at: (p: string, why: string) => void, check: (v: string) => true | string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    at(p, 'must be a list');
    return [];
  }
  const out: string[] = [];
  v.forEach((x, i) => {
    if (typeof x !== 'string' && typeof x !== 'number') return void at(`${p}[${i}]`, 'must be a string');
    const s = String(x);
    const ok = check(s);
    if (ok !== true) at(`${p}[${i}]`, `"${s.slice(0, 100)}" ${ok}`);
    else out.push(s);
  });
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
