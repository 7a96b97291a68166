import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * An API and a worker process start together on a fresh state folder and both find no key file:
 * one generates it, and the other must not read it half-written (a bench boot saw the worker die
 * with "DECODER routines::unsupported" reading the file the API had created but not yet filled).
 */
describe('key files generated on first boot', () => {
  const root = path.resolve(__dirname, '..', '..');
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function loadIn(file: string, which: 'audit' | 'secrets'): Promise<{ code: number | null; out: string; err: string }> {
    // Each child waits for the same wall-clock instant, so their look/generate/read overlap; and its
    // disk is slow: a file write pauses 300 ms between creating the file and filling it, as a
    // descheduled process or a busy disk would.
    const startAt = Date.now() + 1500;
    const script = `
      const fs = require('node:fs');
      const write = fs.writeFileSync;
      fs.writeFileSync = (file, data, opts) => {
        const fd = fs.openSync(file, (opts && opts.flag) || 'w', opts && opts.mode);
        const until = Date.now() + 300;
        while (Date.now() < until) {}
        fs.writeSync(fd, data);
        fs.closeSync(fd);
      };
      const { loadAuditSigningKey } = require(${JSON.stringify(path.join(root, 'src/audit/audit.providers.ts'))});
      const { loadSecretKeyring } = require(${JSON.stringify(path.join(root, 'src/engine/run-secrets.service.ts'))});
      while (Date.now() < ${startAt}) {}
      const id = ${JSON.stringify(which)} === 'audit'
        ? loadAuditSigningKey({ audit: { signingKeyFile: ${JSON.stringify(file)} }, isProduction: false }).keyId
        : loadSecretKeyring({ secrets: { keyFile: ${JSON.stringify(file)}, oldKeys: [] }, isProduction: false }).current.id;
      process.stdout.write('KEY:' + id);`;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (err += c));
      child.on('close', (code) => resolve({ code, out, err }));
    });
  }

  it.each(['audit', 'secrets'] as const)(
    '%s key: processes that start at once on a fresh folder all load the one key, never a half-written file',
    async (which) => {
      for (let round = 0; round < 2; round++) {
        const file = path.join(dir, `round-${round}`, `${which}-key`);
        const results = await Promise.all(Array.from({ length: 5 }, () => loadIn(file, which)));
        for (const r of results) expect({ code: r.code, err: r.err.slice(0, 300) }).toEqual({ code: 0, err: '' });
        const ids = new Set(results.map((r) => /KEY:([0-9a-zA-Z-]+)/.exec(r.out)?.[1]));
        expect(ids.size).toBe(1);
        expect([...ids][0]).toMatch(/^(k-)?[0-9a-f]{12,}$/);
        if (which === 'audit') expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
        // No temporary file is left beside it.
        expect(readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
        expect(statSync(file).mode & 0o777).toBe(0o600);
      }
    },
    120_000,
  );
});
