#!/usr/bin/env node
/**
 * Installs deploy/aws's locked dependencies (the CDK app, a package of its own) unless what is
 * installed already matches its package-lock.json: `npm ci` there only when needed, so the test
 * command and `npm run deploy:synth` cost nothing on a second run and never drift from the lock.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.resolve(__dirname, '..', 'deploy', 'aws');

function upToDate() {
  let lock;
  let installed;
  try {
    lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
    // npm writes this after every install: what node_modules holds.
    installed = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '.package-lock.json'), 'utf8'));
  } catch {
    return false;
  }
  return Object.entries(lock.packages).every(([key, want]) => {
    if (key === '') return true;
    const have = installed.packages[key];
    return have !== undefined && have.version === want.version && have.integrity === want.integrity && fs.existsSync(path.join(dir, key));
  });
}

if (!upToDate()) {
  process.stderr.write('deploy/aws: installing its locked dependencies (npm ci)\n');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
}
