import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { AuditDigest } from './audit-digest';
import { AuditDigestStore } from './audit-digest-store';

/**
 * The embedded default: one JSON line per digest, appended (O_APPEND) and flushed to disk before
 * the digest counts as published. Keep the file where the database's owner cannot rewrite it (other
 * disk, other user, shipped off the host by the log pipeline): on the database's own disk it only
 * protects against someone who can change the database but not the file.
 */
export class FileDigestStore extends AuditDigestStore {
  readonly description: string;

  constructor(private readonly file: string) {
    super();
    this.description = `file:${file}`;
  }

  async publish(_digest: AuditDigest, body: string): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const handle = await fs.open(this.file, 'a', 0o640);
    try {
      await handle.appendFile(`${body}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async readAll(): Promise<unknown[]> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      // No file yet: nothing was published, which verify reports as unanchored, not as an error.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return { unparsable: line.slice(0, 80) };
        }
      });
  }
}
