import type { AppConfig } from '../config/app.config';

/** Where a step's AWS calls go, as runbooks say it: a region (the configured one when absent) and a role to assume there. */
export interface TargetInput {
  region?: string;
  /** An IAM role to assume for this target (another account); the default credentials otherwise. */
  roleArn?: string;
}

export const ROLE_ARN_SCHEMA = { type: 'string', pattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/.+$' } as const;

/** The `with:` properties of TargetInput, for a step's input schema. */
export const TARGET_PROPERTIES = {
  region: { type: 'string' },
  roleArn: ROLE_ARN_SCHEMA,
} as const;

export function targetOf(input: TargetInput, config: Pick<AppConfig, 'aws'>): { region: string; roleArn?: string } {
  return { region: input.region || config.aws.region, ...(input.roleArn ? { roleArn: input.roleArn } : {}) };
}
