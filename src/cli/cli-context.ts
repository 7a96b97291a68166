import { Command } from 'commander';
import { ApiClient } from './api-client.adapter';
import { CliEnvironment, resolveConnection } from './cli.config';
import { CliOutput } from './cli-output';
import { EXIT, ExitCode } from './exit-codes';

export interface GlobalOptions {
  json?: boolean;
  url?: string;
  color?: boolean;
}

export interface CliIo {
  env: CliEnvironment;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

/** A command's body: it gets the output for its options, the command itself and its arguments; what it returns is the exit code. */
export type CommandBody<A extends unknown[]> = (out: CliOutput, cmd: Command, ...args: A) => Promise<ExitCode | void>;

/**
 * What every command group gets from the program: the process's streams and environment, the
 * API client for the options given, and `act`, which turns a command body into a commander action
 * that records the exit code.
 */
export class CliContext {
  exitCode: ExitCode = EXIT.ok;

  constructor(readonly io: CliIo) {}

  outputFor(cmd: Command): CliOutput {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return new CliOutput({ json: !!g.json, colour: g.color !== false && !!this.io.stdout.isTTY && !this.io.env.noColor }, this.io.stdout, this.io.stderr);
  }

  async clientFor(cmd: Command): Promise<ApiClient> {
    return new ApiClient(await resolveConnection(this.io.env, cmd.optsWithGlobals<GlobalOptions>().url));
  }

  act<A extends unknown[]>(fn: CommandBody<A>): (...args: unknown[]) => Promise<void> {
    return async (...args: unknown[]) => {
      // commander passes the arguments, then the options, then the command.
      const cmd = args[args.length - 1] as Command;
      this.exitCode = (await fn(this.outputFor(cmd), cmd, ...(args.slice(0, -2) as A))) ?? EXIT.ok;
    };
  }
}
