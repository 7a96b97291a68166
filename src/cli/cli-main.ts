#!/usr/bin/env node
import { readEnvironment } from './cli.config';
import { runCli } from './cli-program';

/** The `runbookd` command (package.json `bin`). */
void runCli(process.argv.slice(2), { env: readEnvironment(), stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then((code) => {
  // Exit once stdout has drained (a large --json document into a pipe), without waiting for
  // idle keep-alive sockets to time out.
  process.stdout.write('', () => process.exit(code));
});
