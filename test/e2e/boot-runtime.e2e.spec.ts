import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { nodeRelease } from '../../src/common/node-release';
import { ROOT } from '../support/runbookd';

/**
 * The built runbookd names the Node.js it runs on as its first boot line, and warns when that
 * release gets no more security fixes, even when boot then stops on a bad setting (a
 * crash-looping container's log is where an operator learns the image's runtime is stale).
 * npm test runs this on Node 24 and the quick start on Node 20; either way the line must match.
 */
describe('boot names the Node.js runtime', () => {
  it('logs process.version first and warns exactly when that release has ended', async () => {
    const main = path.join(ROOT, 'dist', 'main.js');
    if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');
    // A bad PORT stops boot at the config check, before any database or Redis is touched.
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: 'not-a-port', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const [code] = await once(child, 'exit');

    expect(code).toBe(78);
    const lines = out.split('\n').filter((l) => l.includes('[Boot]'));
    expect(lines[0]).toContain(`Node.js ${process.version}`);
    const release = nodeRelease(process.version, new Date());
    if (release.ended) {
      expect(lines[0]).toMatch(/\bWARN\b/);
      expect(lines[0]).toContain(`end of life on ${release.endOfLife}`);
    } else {
      expect(lines[0]).toMatch(/\bLOG\b/);
      expect(lines[0]).toContain(`supported until ${release.endOfLife}`);
    }
    // Then the config error, after the runtime line.
    expect(lines[1]).toContain('Invalid configuration');
    expect(out.indexOf('PORT must be an integer')).toBeGreaterThan(out.indexOf(lines[1]));
  }, 30_000);
});
