import * as fs from 'node:fs';
import { parseDocument } from 'yaml';
import { DEFAULT_APPROVAL_RULES, defaultGroups, defaultPolicy } from './default-policy';
import { POLICY_ACTIONS, RUNBOOK_RISKS, type ApprovalRule, type Policy, type PolicyAction, type PolicyGrant, type PolicyGroup } from './policy.types';

/** A policy file that cannot be used: every problem, each naming the file, the path in it and why. */
export class PolicyFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`the policy is not usable:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyFileError';
  }
}

const TOP_LEVEL = ['version', 'accounts', 'approvals', 'groups', 'grants', 'sso'];
const ACCOUNT = /^\d{12}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$/;

/** The policy RUNBOOKD_POLICY names, or the built-in defaults when it names none. */
export function loadPolicy(file: string | undefined): Policy {
  if (file === undefined) return defaultPolicy();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyFileError([`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  return parsePolicy(text, file);
}

/**
 * Sections left out keep their defaults (the three role groups and their grants, the default
 * approval rules); a section given replaces its default, except that the role groups always
 * exist so that configured API keys keep their meaning.
 */
export function parsePolicy(text: string, source: string): Policy {
  const problems: string[] = [];
  const at = (path: string, why: string) => problems.push(`${source}: ${path}: ${why}`);
  const doc = parseDocument(text, { uniqueKeys: true });
  for (const e of doc.errors) at('(yaml)', e.message.split('\n')[0]);
  if (doc.errors.length > 0) throw new PolicyFileError(problems);
  const raw: unknown = doc.toJS() ?? {};
  if (!isObject(raw)) throw new PolicyFileError([`${source}: (top level): must be a mapping with ${TOP_LEVEL.join(', ')}`]);
  for (const k of Object.keys(raw)) if (!TOP_LEVEL.includes(k)) at(k, `unknown field (known: ${TOP_LEVEL.join(', ')})`);
  if (raw.version !== undefined && raw.version !== 1) at('version', 'must be 1');

  const policy = defaultPolicy();
  policy.source = source;

  if (raw.accounts !== undefined) {
    if (!isObject(raw.accounts)) at('accounts', 'must be a mapping such as { production: ["123456789012"] }');
    else {
      for (const k of Object.keys(raw.accounts)) if (k !== 'production') at(`accounts.${k}`, 'unknown field (known: production)');
      policy.productionAccounts = stringList(
        raw.accounts.production,
        'accounts.production',
        at,
        (v, p) => ACCOUNT.test(v) || (at(p, `"${v}" is not a 12-digit account id`), false),
      );
    }
  }

  if (raw.groups !== undefined) {
    if (!isObject(raw.groups)) at('groups', 'must be a mapping of group name to { keys, subjects, oidcGroups }');
    else {
      const groups: Record<string, PolicyGroup> = defaultGroups();
      for (const [name, g] of Object.entries(raw.groups)) {
        const p = `groups.${name}`;
        if (!NAME.test(name)) at(p, 'a group name is letters, digits and _ . : @ - (at most 100)');
        if (g === null) {
          groups[name] = { keys: [], subjects: [], oidcGroups: [] };
          continue;
        }
        if (!isObject(g)) {
          at(p, 'must be a mapping with keys, subjects and/or oidcGroups');
          continue;
        }
        for (const k of Object.keys(g))
          if (!['keys', 'subjects', 'oidcGroups'].includes(k)) at(`${p}.${k}`, 'unknown field (known: keys, subjects, oidcGroups)');
        groups[name] = {
          keys: stringList(g.keys, `${p}.keys`, at),
          subjects: stringList(g.subjects, `${p}.subjects`, at),
          oidcGroups: stringList(g.oidcGroups, `${p}.oidcGroups`, at),
        };
      }
      policy.groups = groups;
    }
  }

  if (raw.approvals !== undefined) {
    policy.approvalRules = parseRules(raw.approvals, policy, at);
  }

  if (raw.grants !== undefined) {
    if (!Array.isArray(raw.grants)) at('grants', 'must be a list of { group | key | subject, may, runbooks, accounts, regions, environments }');
    else policy.grants = raw.grants.map((g, i) => parseGrant(g, `grants[${i}]`, policy, at)).filter((g): g is PolicyGrant => g !== null);
  }

  if (raw.sso !== undefined) {
    if (!isObject(raw.sso)) at('sso', 'must be a mapping such as { defaultGroup: viewer }');
    else {
      for (const k of Object.keys(raw.sso)) if (k !== 'defaultGroup') at(`sso.${k}`, 'unknown field (known: defaultGroup)');
      const g = raw.sso.defaultGroup;
      if (g !== undefined && g !== null) {
        if (typeof g !== 'string' || !(g in policy.groups))
          at('sso.defaultGroup', `unknown group "${String(g)}" (groups: ${Object.keys(policy.groups).join(', ')})`);
        else policy.sso.defaultGroup = g;
      }
    }
  }

  if (problems.length > 0) throw new PolicyFileError(problems);
  return policy;
}

function parseRules(raw: unknown, policy: Policy, at: (p: string, why: string) => void): ApprovalRule[] {
  if (!Array.isArray(raw)) {
    at('approvals', 'must be a list of { id, when, minApprovals }');
    return [...DEFAULT_APPROVAL_RULES];
  }
  const seen = new Set<string>();
  const rules: ApprovalRule[] = [];
  raw.forEach((r, i) => {
    const p = `approvals[${i}]`;
    if (!isObject(r)) return void at(p, 'must be a mapping with id, when and minApprovals');
    for (const k of Object.keys(r)) if (!['id', 'when', 'minApprovals'].includes(k)) at(`${p}.${k}`, 'unknown field (known: id, when, minApprovals)');
    if (typeof r.id !== 'string' || !NAME.test(r.id)) return void at(`${p}.id`, 'must be a name (letters, digits and _ . : @ -)');
    if (seen.has(r.id)) at(`${p}.id`, `"${r.id}" is used by an earlier rule`);
    seen.add(r.id);
    const minApprovals = r.minApprovals === undefined ? 1 : r.minApprovals;
    if (typeof minApprovals !== 'number' || !Number.isInteger(minApprovals) || minApprovals < 1 || minApprovals > 10) {
      at(`${p}.minApprovals`, 'must be a whole number from 1 to 10');
    }
    if (!isObject(r.when) || Object.keys(r.when).length === 0)
      return void at(`${p}.when`, 'must be a mapping with at least one of account, tags, risk, runbooks');
    const w = r.when;
    for (const k of Object.keys(w))
      if (!['account', 'tags', 'risk', 'runbooks'].includes(k)) at(`${p}.when.${k}`, 'unknown field (known: account, tags, risk, runbooks)');
    const when: ApprovalRule['when'] = {};
    if (w.account !== undefined) {
      if (w.account === 'production') {
        when.account = 'production';
        if (policy.productionAccounts.length === 0) at(`${p}.when.account`, 'names the production accounts, but accounts.production lists none');
      } else
        when.account = stringList(
          w.account,
          `${p}.when.account`,
          at,
          (v, q) => ACCOUNT.test(v) || (at(q, `"${v}" is not a 12-digit account id or "production"`), false),
        );
    }
    if (w.tags !== undefined) {
      if (!isObject(w.tags) || Object.keys(w.tags).length === 0) at(`${p}.when.tags`, 'must map tag keys to lists of values');
      else when.tags = Object.fromEntries(Object.entries(w.tags).map(([k, v]) => [k, stringList(typeof v === 'string' ? [v] : v, `${p}.when.tags.${k}`, at)]));
    }
    if (w.risk !== undefined) {
      when.risk = stringList(
        w.risk,
        `${p}.when.risk`,
        at,
        (v, q) => (RUNBOOK_RISKS as readonly string[]).includes(v) || (at(q, `"${v}" is not a risk (${RUNBOOK_RISKS.join(', ')})`), false),
      ) as ApprovalRule['when']['risk'];
    }
    if (w.runbooks !== undefined) when.runbooks = stringList(w.runbooks, `${p}.when.runbooks`, at);
    rules.push({ id: r.id, when, minApprovals: typeof minApprovals === 'number' ? minApprovals : 1 });
  });
  return rules;
}

function parseGrant(raw: unknown, p: string, policy: Policy, at: (p: string, why: string) => void): PolicyGrant | null {
  const fields = ['group', 'key', 'subject', 'may', 'runbooks', 'accounts', 'regions', 'environments'];
  if (!isObject(raw)) {
    at(p, 'must be a mapping');
    return null;
  }
  for (const k of Object.keys(raw)) if (!fields.includes(k)) at(`${p}.${k}`, `unknown field (known: ${fields.join(', ')})`);
  const whoKeys = (['group', 'key', 'subject'] as const).filter((k) => raw[k] !== undefined);
  if (whoKeys.length !== 1) {
    at(p, 'name exactly one of group, key or subject');
    return null;
  }
  const whoKey = whoKeys[0];
  const name = raw[whoKey];
  if (typeof name !== 'string' || name === '') {
    at(`${p}.${whoKey}`, 'must be a non-empty string');
    return null;
  }
  if (whoKey === 'group' && !(name in policy.groups)) {
    at(`${p}.group`, `unknown group "${name}" (groups: ${Object.keys(policy.groups).join(', ')})`);
  }
  const may = stringList(
    raw.may,
    `${p}.may`,
    at,
    (v, q) => (POLICY_ACTIONS as readonly string[]).includes(v) || (at(q, `"${v}" is not an action (${POLICY_ACTIONS.join(', ')})`), false),
  );
  if (raw.may === undefined) at(`${p}.may`, `is required: a list of ${POLICY_ACTIONS.join(', ')}`);
  const scope = (k: 'runbooks' | 'accounts' | 'regions' | 'environments') => (raw[k] === undefined ? ['*'] : stringList(raw[k], `${p}.${k}`, at));
  return {
    who: whoKey === 'group' ? { group: name } : whoKey === 'key' ? { key: name } : { subject: name },
    may: may as PolicyAction[],
    runbooks: scope('runbooks'),
    accounts: scope('accounts'),
    regions: scope('regions'),
    environments: scope('environments'),
  };
}

function stringList(v: unknown, p: string, at: (p: string, why: string) => void, check?: (v: string, p: string) => boolean): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    at(p, 'must be a list of strings');
    return [];
  }
  const out: string[] = [];
  v.forEach((x, i) => {
    const q = `${p}[${i}]`;
    if (typeof x !== 'string' && typeof x !== 'number') return void at(q, 'must be a string');
    const s = String(x);
    if (check && !check(s, q)) return;
    out.push(s);
  });
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
