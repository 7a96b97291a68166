import type { AppConfig } from '../../config/app.config';

/** The region/role inputs every capacity step takes. */
export const CAPACITY_TARGET_PROPERTIES = {
  region: { type: 'string' },
  roleArn: { type: 'string', pattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/.+$' },
} as const;

export function capacityTarget(input: { region?: string; roleArn?: string }, config: AppConfig): { region: string; roleArn?: string } {
  return { region: input.region || config.awsRegion, ...(input.roleArn ? { roleArn: input.roleArn } : {}) };
}
