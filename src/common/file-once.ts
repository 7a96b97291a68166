import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Creates `file` with `contents` (mode 0600) unless it exists; true when this call created it.
 *
 * The contents are written whole to a file of this process's own and then hard-linked into
 * place: link() is atomic and fails when the name exists. Processes that start together on a
 * fresh state folder (the API and a worker) therefore see either no file or a complete one, never
 * one created but not yet filled, and exactly one of them wins. Keys generated on first boot go
 * through here.
 */
export function createFileOnce(file: string, contents: () => string): boolean {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, contents(), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}
