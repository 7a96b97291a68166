import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CliError } from './cli.error';

/**
 * Where the CLI finds the service and its key. The CLI is its own entry point, run on an
 * engineer's laptop or a CI job, not the service: `src/config/app.config.ts` (the service's
 * validated boot configuration) does not apply to it, and the server imports nothing from `src/cli/`.
 * This file is the CLI's one reader of the environment (as `src/config/` is the server's); it
 * reads RUNBOOKD_URL, RUNBOOKD_API_KEY, NO_COLOR, XDG_CONFIG_HOME and HOME. Everything else in the
 * CLI receives what it needs from here.
 */
export interface CliEnvironment {
  url?: string;
  apiKey?: string;
  noColor: boolean;
  profileFile: string;
}

export interface Profile {
  url: string;
  apiKey: string;
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const home = env.HOME || os.homedir();
  const base = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return {
    url: env.RUNBOOKD_URL || undefined,
    apiKey: env.RUNBOOKD_API_KEY || undefined,
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '',
    profileFile: path.join(base, 'runbookd', 'config.json'),
  };
}

/** The environment wins over the profile file, so a CI job can override one saved profile. */
export async function resolveConnection(env: CliEnvironment, urlOption?: string): Promise<Profile> {
  const profile = await readProfile(env.profileFile);
  const url = urlOption ?? env.url ?? profile?.url;
  const apiKey = env.apiKey ?? profile?.apiKey;
  if (!url) {
    throw new CliError('USAGE', `no service URL: set RUNBOOKD_URL, pass --url, or run \`runbookd login --url <url>\` (profile file ${env.profileFile})`);
  }
  if (!apiKey) {
    throw new CliError('NOT_AUTHORISED', `no API key: set RUNBOOKD_API_KEY or run \`runbookd login\` (profile file ${env.profileFile})`);
  }
  return { url: url.replace(/\/+$/, ''), apiKey };
}

async function readProfile(file: string): Promise<Partial<Profile> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError('USAGE', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as Partial<Profile>;
    return { url: typeof v.url === 'string' ? v.url : undefined, apiKey: typeof v.apiKey === 'string' ? v.apiKey : undefined };
  } catch {
    throw new CliError('USAGE', `${file} is not JSON; remove it and run \`runbookd login\` again`);
  }
}

/** Written owner-only (the key is a credential), through a temporary file so a crash leaves the old one whole. */
export async function writeProfile(file: string, profile: Profile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file; make sure of it either way.
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}
