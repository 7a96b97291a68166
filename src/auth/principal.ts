import type { ApiKeyEntry } from '../config/app.config';

/** An API key's role; distinct from the process role (`RUNBOOKD_ROLE`) in app.config. */
export type Role = ApiKeyEntry['role'];

/** Who made a request: the configured key's name (what the audit records) and its role. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/** Lowest to highest; each role holds every permission of the roles before it. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The roles that satisfy `need`, lowest first: `operator` → ['operator', 'admin']. */
export function rolesSatisfying(need: Role): Role[] {
  return ROLES.filter((r) => roleAllows(r, need));
}
