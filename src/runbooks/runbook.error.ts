import { CodedError } from '../common/coded-error';

export type RunbookErrorCode =
  | 'RUNBOOK_NOT_FOUND'
  | 'RUNBOOK_INVALID'
  | 'PARAMETERS_INVALID'
  | 'TRIGGER_NOT_ALLOWED';

export class RunbookError extends CodedError<RunbookErrorCode> {
  readonly area = 'runbook';
}

/** One problem in one runbook file: which file, where in it, and why. */
export interface DefinitionProblem {
  file: string;
  path: string;
  reason: string;
}

export function definitionError(problems: DefinitionProblem[]): RunbookError {
  const lines = problems.map((p) => `${p.file}: ${p.path || '(root)'}: ${p.reason}`);
  return new RunbookError('RUNBOOK_INVALID', `invalid runbook definition:\n  ${lines.join('\n  ')}`, { problems });
}
