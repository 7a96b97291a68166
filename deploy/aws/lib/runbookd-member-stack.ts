import * as cdk from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { type GeneratedPolicy, statementsOf } from './policy-document';

export interface RunbookdMemberStackProps extends cdk.StackProps {
  /** The same generated policy as the task role's: what the runbooks call in a target account. */
  taskPolicy: GeneratedPolicy;
  /** The role name fleets assume (`RUNBOOKD_ACCOUNT_ROLE_ARN=arn:aws:iam::{account}:role/runbookd`). */
  roleName?: string;
}

/**
 * The role runbookd assumes in each member (target) account, deployed there once (or by a
 * StackSet across an organization). It trusts exactly the runbookd task role of the central
 * account, whose id and role name are parameters, and allows what the runbooks call; it cannot
 * itself assume further roles, so a chain ends here.
 */
export class RunbookdMemberStack extends cdk.Stack {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: RunbookdMemberStackProps) {
    super(scope, id, props);
    const centralAccount = new cdk.CfnParameter(this, 'RunbookdAccountId', {
      type: 'String', allowedPattern: '^\\d{12}$', description: 'The account runbookd runs in (its RunbookdStack)',
    });
    const taskRoleName = new cdk.CfnParameter(this, 'RunbookdTaskRoleName', {
      type: 'String', default: 'runbookd-task', description: 'The task role name in that account (RunbookdStack output TaskRoleArn)',
    });
    const taskRoleArn = `arn:${cdk.Aws.PARTITION}:iam::${centralAccount.valueAsString}:role/${taskRoleName.valueAsString}`;

    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName ?? 'runbookd',
      assumedBy: new iam.ArnPrincipal(taskRoleArn),
      description: 'Assumed by runbookd to run its runbooks in this account',
      maxSessionDuration: cdk.Duration.hours(1),
    });
    new iam.Policy(this, 'RunbooksPolicy', {
      policyName: 'runbookd-runbooks',
      roles: [this.role],
      statements: statementsOf(props.taskPolicy, (action) => action === 'sts:AssumeRole'),
    });
    new cdk.CfnOutput(this, 'RoleArn', { value: this.role.roleArn });
  }
}
