import type { AuditEventInput } from '../audit/audit.types';

/**
 * What a mutating AWS call needs from whoever owns the run it is made for (the executor's lease),
 * so that a worker that stalled and lost the run can call nothing more. Defined here, in the
 * adapters' vocabulary, so the AWS layer imports nothing from the engine.
 */
export interface CallFence {
  /**
   * Commits the `aws.request` record under the run's lease (and renews it). Throws when a newer
   * executor holds the run: the call is then never sent.
   */
  recordIntent(event: AuditEventInput): Promise<void>;
  /**
   * The last look before the request leaves, synchronous so nothing can run between it and the
   * send: throws when the lease has run out by this process's clock (it was frozen meanwhile).
   */
  assertHeld(): void;
  /**
   * Records what AWS answered. AWS has acted by now, so a database that is briefly away must not
   * turn the answer into a failure: the record is retried with backoff.
   */
  recordOutcome(event: AuditEventInput): Promise<void>;
}
