import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '../auth/permission.decorator';
import { StepRegistry } from '../steps/step-registry';
import { iamPolicyFor } from '../runbooks/iam-policy';
import { RunbookCatalog } from '../runbooks/runbook-catalog.service';

/** The least-privilege IAM policy for every loaded runbook together: what runbookd's task role needs. */
@ApiTags('runbooks')
@ApiBearerAuth()
@Controller('v1/iam-policy')
export class IamPolicyController {
  constructor(
    private readonly catalog: RunbookCatalog,
    private readonly steps: StepRegistry,
  ) {}

  @Get()
  @RequirePermission('view')
  all() {
    return iamPolicyFor(
      this.catalog.list().map((l) => l.definition),
      this.steps,
    );
  }
}
