import type { CallFence } from './call-fence';

/**
 * Who an AWS call is made for: the run and step it is audited under. The engine builds one per
 * step (and preflight or a webhook one of their own); adapters only read it.
 */
export interface AwsCallContext {
  runId: string;
  runbookId: string;
  stepId: string;
  actor: string;
  dryRun: boolean;
  expiresAt: Date;
  /** The run's secret parameter values, so records of AWS calls can hide them wherever they appear. */
  secretValues?: readonly string[];
  /** The executor's lease on the run: mutating calls are recorded and sent only while it holds. Absent outside runs (preflight, webhook). */
  fence?: CallFence;
}

/** A mutating call as a dry run shows it: exactly what would be sent, and where. */
export interface PlannedCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
  region?: string;
}
