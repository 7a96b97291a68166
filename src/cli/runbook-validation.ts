import 'reflect-metadata';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { StepRegistry } from '../steps/step-registry';
import { loadRunbooks } from '../runbooks/runbook-loader';
import { scheduleParameterProblems } from '../runbooks/runbook-catalog.service';
import { DefinitionProblem, RunbookError } from '../runbooks/runbook.error';
import { STEP_CLASSES } from '../steps/step-catalog';
import { CliError } from './cli.error';

export interface ValidationResult {
  dir: string;
  runbooks: string[];
  problems: DefinitionProblem[];
}

/**
 * Checks a folder of runbooks exactly as the service does at boot (the same loader, schema and
 * step types), with no database, queue or AWS: for the CI of a runbook repository.
 */
export function validateRunbooks(dir: string): ValidationResult {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new CliError('USAGE', `${dir} is not a folder of runbooks`);
  // The loader reads only what a step type declares (uses, mutates, outputs), never calls it, so
  // the steps are made without their AWS adapters.
  const registry = new StepRegistry(STEP_CLASSES.map((C) => new (C as new () => never)()));
  try {
    const loaded = loadRunbooks(dir, registry);
    return { dir, runbooks: loaded.map((l) => l.definition.id), problems: scheduleParameterProblems(loaded) };
  } catch (err) {
    if (err instanceof RunbookError && err.code === 'RUNBOOK_INVALID') {
      return { dir, runbooks: [], problems: (err.details.problems as DefinitionProblem[]).map((p) => ({ ...p, file: relative(p.file) })) };
    }
    throw err;
  }
}

/** `file:path: reason`, the form editors and CI annotations pick up. */
export function formatProblem(p: DefinitionProblem): string {
  return `${relative(p.file)}:${p.path || '(root)'}: ${p.reason}`;
}

function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}
