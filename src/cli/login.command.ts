import * as readline from 'node:readline';
import { Command } from 'commander';
import { ApiClient } from './api-client.adapter';
import { writeProfile } from './cli.config';
import { CliContext, CliIo, GlobalOptions } from './cli-context';
import { CliError } from './cli.error';

/** `login`: the one command that writes the profile file. */
export function registerLoginCommand(program: Command, ctx: CliContext): void {
  const io = ctx.io;
  program
    .command('login')
    .description('check a key against the service and save URL and key to the profile file (mode 0600); the key is read from stdin')
    .action(
      ctx.act(async (out, cmd) => {
        // --url is the global option: `runbookd login --url <url>` and `runbookd --url <url> login` both work.
        const given = cmd.optsWithGlobals<GlobalOptions>().url ?? io.env.url;
        if (!given) throw new CliError('USAGE', 'login needs --url <runbookd base URL>');
        const url = given.replace(/\/+$/, '');
        const apiKey = io.env.apiKey ?? (await readSecret(io, 'API key: '));
        if (!apiKey) throw new CliError('USAGE', 'no API key given on stdin');
        // Refuse to save a key the service does not take: the next command would only fail later.
        await new ApiClient({ url, apiKey }).get('/v1/runbooks');
        await writeProfile(io.env.profileFile, { url, apiKey });
        if (out.json) out.document({ url, profileFile: io.env.profileFile });
        else out.line(`saved ${url} and the key to ${io.env.profileFile} (mode 0600)`);
      }),
    );
}

async function readSecret(io: CliIo, prompt: string): Promise<string> {
  const rl = readline.createInterface({ input: io.stdin, output: io.stdin.isTTY ? io.stderr : undefined, terminal: !!io.stdin.isTTY });
  if (io.stdin.isTTY) {
    io.stderr.write(prompt);
    // Do not echo the key on the terminal.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  try {
    for await (const line of rl) return line.trim();
    return '';
  } finally {
    rl.close();
    if (io.stdin.isTTY) io.stderr.write('\n');
  }
}
