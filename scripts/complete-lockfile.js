#!/usr/bin/env node
/**
 * Completes package-lock.json with the platform-specific optional packages npm could not record.
 *
 * Packages such as @swc/core list one native binary package per platform as optional
 * dependencies. npm records in the lock only those it could resolve, and a registry that serves
 * some platforms' binaries only (as this project's build machines' does) leaves the others out;
 * `npm ci` then refuses the lock ("Missing: @swc/core-darwin-arm64 from lock file") everywhere.
 * This adds each missing one with its version and the os / cpu / libc its name states, marked
 * optional, so `npm ci` accepts the lock and each machine installs only its own binary.
 *
 * Usage: npm run lock   (regenerates the lock, then runs this)
 */
const fs = require('node:fs');
const path = require('node:path');

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64'];

function platformOf(name) {
  const tokens = name.split('/').pop().split('-');
  const os = tokens.find((t) => OS.includes(t));
  const cpu = tokens.find((t) => CPU.includes(t));
  if (!os || !cpu) return null;
  const libc = tokens.some((t) => t.startsWith('musl')) ? 'musl' : tokens.some((t) => t.startsWith('gnu')) ? 'glibc' : null;
  return { os: [os], cpu: [cpu], ...(libc ? { libc: [libc] } : {}) };
}

const file = path.resolve(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;
const installed = new Set(Object.keys(packages).map((k) => k.replace(/^.*node_modules\//, '')));
const added = [];

for (const [where, meta] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    if (installed.has(dep)) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(range)) continue; // only exact-version platform binaries
    const entry = { version: range, ...platform, optional: true };
    if (meta.dev) entry.dev = true;
    else if (meta.devOptional) entry.devOptional = true;
    packages[`node_modules/${dep}`] = entry;
    installed.add(dep);
    added.push(`${dep}@${range} (${where || 'root'})`);
  }
}

lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(added.length ? `added ${added.length} platform entries:\n  ${added.join('\n  ')}` : 'lockfile already complete');
