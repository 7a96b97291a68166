import { CodedError } from '../common/coded-error';
import { EXIT, ExitCode } from './exit-codes';

export type CliErrorCode =
  /** What was typed cannot be used (unknown option, bad -p, unreadable --params-file, a 400 from the API). */
  | 'USAGE'
  /** No configuration, or the service could not be reached at all. */
  | 'UNREACHABLE'
  /** The API answered 401 or 403. */
  | 'NOT_AUTHORISED'
  /** Anything else the API refused (404, 409, 5xx), or a local file that could not be written. */
  | 'FAILED';

/** The CLI's one error type; `exitCode` is what the process ends with. */
export class CliError extends CodedError<CliErrorCode> {
  readonly area = 'cli';

  get exitCode(): ExitCode {
    switch (this.code) {
      case 'USAGE':
        return EXIT.usage;
      case 'UNREACHABLE':
        return EXIT.unreachable;
      case 'NOT_AUTHORISED':
        return EXIT.notAuthorised;
      case 'FAILED':
        return EXIT.failed;
      default: {
        const unreachable: never = this.code;
        return unreachable;
      }
    }
  }
}
