import { CodedError } from '../common/coded-error';

export type ApprovalErrorCode =
  /** The run has no approval request (none yet, or it needs none). */
  | 'APPROVAL_NOT_FOUND'
  /** This key may not decide it: the requester, or not among the runbook's approvers. */
  | 'APPROVAL_NOT_ALLOWED'
  /** Already decided (by this person, or the request is no longer pending). */
  | 'APPROVAL_ALREADY_DECIDED'
  /** The plan the approver saw is not the one the run would carry out now. */
  | 'APPROVAL_PLAN_CHANGED'
  /** How a gated run ends: a reject, or no decision before the timeout. */
  | 'APPROVAL_REJECTED'
  | 'APPROVAL_EXPIRED';

export class ApprovalError extends CodedError<ApprovalErrorCode> {
  readonly area = 'approval';
}

/** Step errors that end a run `rejected` rather than `failed`. */
export function isRejection(code: string | undefined): boolean {
  return code === 'APPROVAL_REJECTED' || code === 'APPROVAL_EXPIRED';
}
