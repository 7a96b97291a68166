import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createFileOnce } from '../common/file-once';
import { AppConfig, ConfigError } from '../config/app.config';
import { PolicyService } from '../policy/policy.service';
import { AuthError } from './auth.error';
import { roleOfGroups, type Principal } from './principal';

export const DEV_ADMIN_KEY_NAME = 'dev-admin';
export const DEV_ADMIN_KEY_FILE = 'admin-api-key';
const DEV_KEY_PATTERN = /^rbd_[A-Za-z0-9_-]{43}$/;

const HOW_TO_SEND = 'send Authorization: Bearer <api key>';

interface KeyEntry {
  name: string;
  group: string;
  digest: Buffer;
}

/**
 * Turns an Authorization header into a Principal. Only SHA-256 digests of keys are held, and
 * nothing this class logs or throws contains a presented token or the generated development key.
 */
@Injectable()
export class ApiKeyService implements OnModuleInit {
  private keys: KeyEntry[] | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly policy: PolicyService,
    @Optional() private readonly logger: Logger = new Logger(ApiKeyService.name),
  ) {}

  onModuleInit(): void {
    if (this.config.auth.apiKeys.length > 0) {
      this.keys = this.config.auth.apiKeys.map((k) => ({ name: k.name, group: k.group, digest: Buffer.from(k.sha256, 'hex') }));
      assertDistinctDigests(this.keys);
      // A key in a group the policy does not define could do nothing, silently: refuse to boot instead.
      const unknown = this.keys.filter((k) => !this.policy.hasGroup(k.group));
      if (unknown.length > 0) {
        throw new ConfigError(
          unknown.map(
            (k) =>
              `RUNBOOKD_API_KEYS: key "${k.name}" names group "${k.group}", which ${this.policy.policy.source} does not define (groups: ${Object.keys(this.policy.policy.groups).join(', ')})`,
          ),
        );
      }
      this.logger.log(`API keys configured: ${this.keys.map((k) => `${k.name} (${k.group})`).join(', ')}`);
      return;
    }
    // Config already refuses this; checked again so that no path can mint a key in production.
    if (this.config.isProduction) {
      throw new ConfigError(['RUNBOOKD_API_KEYS must name at least one key when NODE_ENV=production']);
    }
    const { key, file, created } = loadOrCreateDevKey(this.config.stateDir, this.logger);
    this.keys = [{ name: DEV_ADMIN_KEY_NAME, group: 'admin', digest: sha256(key) }];
    this.logger.warn(
      `RUNBOOKD_API_KEYS is not set: ${created ? 'generated' : 'reusing'} the development admin key ` +
        `"${DEV_ADMIN_KEY_NAME}" stored in ${file} (mode 0600). ` +
        `Use it as: Authorization: Bearer $(cat ${file}). Set RUNBOOKD_API_KEYS to replace it.`,
    );
  }

  /** Throws AuthError('UNAUTHENTICATED') for a missing, malformed or unknown key. */
  authenticate(authorizationHeader: string | undefined): Principal {
    if (this.keys === undefined) throw new Error('ApiKeyService.authenticate called before onModuleInit');
    const token = parseBearer(authorizationHeader);
    const digest = sha256(token);
    // Compare with every entry and never stop early, so timing does not tell which entry matched.
    let match: KeyEntry | undefined;
    for (const entry of this.keys) {
      const equal = timingSafeEqual(digest, entry.digest);
      if (equal && match === undefined) match = entry;
    }
    if (match === undefined) {
      throw new AuthError('UNAUTHENTICATED', `API key not recognized: ${HOW_TO_SEND} with a key listed in RUNBOOKD_API_KEYS`, {
        reason: 'unknown_key',
      });
    }
    return this.principalOf(match);
  }

  /**
   * The principal of a key known by its SHA-256 (a console session stores that, never the key);
   * undefined once no configured key has it. The digest comes from our own session table.
   */
  principalForDigest(digest: Buffer): Principal | undefined {
    if (this.keys === undefined) throw new Error('ApiKeyService.principalForDigest called before onModuleInit');
    const match = this.keys.find((k) => k.digest.length === digest.length && timingSafeEqual(k.digest, digest));
    return match === undefined ? undefined : this.principalOf(match);
  }

  private principalOf(entry: KeyEntry): Principal {
    const groups = this.policy.groupsOfKey(entry.name, entry.group);
    return { name: entry.name, via: 'key', groups, role: roleOfGroups(groups) };
  }
}

/**
 * The token of a well-formed `Bearer <token>` header; undefined for a missing or malformed one.
 * For the sign-in limiter, which needs the key's prefix before the key is looked at.
 */
export function presentedBearerToken(header: string | undefined): string | undefined {
  try {
    return parseBearer(header);
  } catch {
    return undefined;
  }
}

/** True when no Authorization header was sent at all (a client that did not try to sign in). */
export function noAuthorization(header: string | undefined): boolean {
  return (header?.trim() ?? '') === '';
}

function parseBearer(header: string | undefined): string {
  const value = header?.trim() ?? '';
  if (value === '') {
    throw new AuthError('UNAUTHENTICATED', `missing bearer token: ${HOW_TO_SEND}`, { reason: 'missing' });
  }
  const space = value.search(/\s/);
  // Without a space the whole value may be a bare key; the scheme is never quoted back for that reason.
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    throw new AuthError('UNAUTHENTICATED', `the Authorization header must use the Bearer scheme: ${HOW_TO_SEND}`, {
      reason: 'malformed',
    });
  }
  const token = space === -1 ? '' : value.slice(space).trim();
  if (token === '') {
    throw new AuthError('UNAUTHENTICATED', `empty bearer token: ${HOW_TO_SEND}`, { reason: 'malformed' });
  }
  if (/\s/.test(token)) {
    throw new AuthError('UNAUTHENTICATED', `the bearer token must be one word with no spaces: ${HOW_TO_SEND}`, {
      reason: 'malformed',
    });
  }
  return token;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Two names for one key would make the audit's actor depend on list order. */
function assertDistinctDigests(keys: KeyEntry[]): void {
  const problems: string[] = [];
  keys.forEach((a, i) => {
    const b = keys.slice(0, i).find((k) => k.digest.equals(a.digest));
    if (b) problems.push(`RUNBOOKD_API_KEYS: "${b.name}" and "${a.name}" have the same key hash; give each name its own key`);
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Reuses the key from a previous boot so restarts do not break a user's scripts. A new key is
 * created with createFileOnce: if another process (api and worker sharing a state dir) won the
 * race, its key is used, and nobody ever reads a half-written file.
 */
function loadOrCreateDevKey(stateDir: string, logger: Logger): { key: string; file: string; created: boolean } {
  const file = path.join(stateDir, DEV_ADMIN_KEY_FILE);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const existing = readDevKey(file, logger);
  if (existing !== undefined) return { key: existing, file, created: false };

  const key = `rbd_${randomBytes(32).toString('base64url')}`;
  if (createFileOnce(file, () => key)) return { key, file, created: true };
  const winner = readDevKey(file, logger);
  if (winner === undefined) throw new Error(`${file} exists but holds no usable key`);
  return { key: winner, file, created: false };
}

function readDevKey(file: string, logger: Logger): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!stat.isFile()) {
    throw new ConfigError([`${file} is not a regular file; remove it so a development admin key can be generated`]);
  }
  const key = fs.readFileSync(file, 'utf8').trim();
  if (!DEV_KEY_PATTERN.test(key)) {
    // The content is not quoted: it may be a real key someone pasted in.
    throw new ConfigError([`${file} does not hold a runbookd key (rbd_ followed by 43 base64url characters); delete it to have a new one generated`]);
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    fs.chmodSync(file, 0o600);
    logger.warn(`${file} was readable by other users; its mode is now 0600`);
  }
  return key;
}
