import { LEFTOVER_IAM_ACTIONS } from '../aws/rds-leftovers.adapter';

/**
 * The IAM actions each fixed step type can call, in every branch (a failover step may fail a
 * cluster over or reboot an instance): what the runbook's least-privilege policy grants. Generic
 * steps (aws.*) derive theirs from their definition (StepType.iamActions). A step type missing
 * here fails the policy test, and the policy of a runbook using it names it as unknown.
 */
const RDS_READ_SUBJECT = ['rds:DescribeDBClusters', 'rds:DescribeDBInstances'];

export const STEP_IAM_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  'core.noop': [],
  // The gate calls no AWS API itself; its requests go out through the runbook's notify targets (SNS, counted with the engine's calls).
  'core.approve': [],
  'core.sleep': [],
  'drill.evaluate-objectives': [],
  'runbook.run': [],
  // Starts child runs; the targets were found (tag:GetResources) when the fleet was accepted.
  'fleet.run': [],
  'rds.describe-failover-target': RDS_READ_SUBJECT,
  'rds.failover': ['rds:FailoverDBCluster', 'rds:RebootDBInstance', 'rds:DescribeEvents'],
  'rds.wait-for-failover': ['rds:DescribeEvents', ...RDS_READ_SUBJECT],
  'rds.verify-failover': RDS_READ_SUBJECT,
  'rds.describe-restore-source': RDS_READ_SUBJECT,
  'rds.check-restore-window': [...RDS_READ_SUBJECT, 'rds:DescribeDBInstanceAutomatedBackups', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots'],
  // Tags are passed on create, which IAM authorises as rds:AddTagsToResource too.
  'rds.restore-to-point-in-time': [
    ...RDS_READ_SUBJECT, 'rds:RestoreDBInstanceToPointInTime', 'rds:RestoreDBClusterToPointInTime', 'rds:RestoreDBInstanceFromDBSnapshot',
    'rds:RestoreDBClusterFromSnapshot', 'rds:CreateDBInstance', 'rds:AddTagsToResource',
  ],
  'rds.wait-for-restored': [...RDS_READ_SUBJECT, 'backup:DescribeRestoreJob'],
  'rds.tag-restored': [...RDS_READ_SUBJECT, 'rds:AddTagsToResource'],
  'rds.verify-restored': RDS_READ_SUBJECT,
  'rds.delete-restored': [...RDS_READ_SUBJECT, 'rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
  'backup.check-restore-point': [
    'backup:ListRecoveryPointsByResource', 'backup:DescribeRecoveryPoint', 'rds:DescribeDBInstanceAutomatedBackups', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots',
  ],
  // AWS Backup hands its restore role to RDS.
  'backup.start-restore': ['backup:StartRestoreJob', 'iam:PassRole'],
  'backup.put-restore-validation': ['backup:PutRestoreValidationResult'],
  'backup.settle-restore-job': ['backup:DescribeRestoreJob'],
  'capacity.discover-resources': ['ecs:ListClusters', 'ecs:ListServices', 'ecs:DescribeServices', 'rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
  'capacity.analyze-metrics': ['cloudwatch:GetMetricData', 'ecs:DescribeTaskDefinition'],
  'cloudwatch.wait-for-alarm-state': ['cloudwatch:DescribeAlarms'],
  'ecs.mark-known-good': ['cloudwatch:DescribeAlarms', 'ecs:DescribeServices', 'ecs:TagResource'],
  'ecs.resolve-rollback-target': [
    'ecs:DescribeServices', 'ecs:DescribeTaskDefinition', 'ecs:ListServiceDeployments', 'ecs:ListTaskDefinitions', 'ecs:DescribeServiceRevisions', 'ecs:ListTagsForResource',
  ],
  'ecs.update-service-task-definition': ['ecs:DescribeServices', 'ecs:UpdateService'],
  'ecs.wait-for-steady-state': ['ecs:DescribeServices'],
  'janitor.find-expired': [...LEFTOVER_IAM_ACTIONS.list],
  'janitor.delete-expired': [...LEFTOVER_IAM_ACTIONS.delete],
};
