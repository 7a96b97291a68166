import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { personFields } from '../engine/run-access.service';
import { CurrentPrincipal } from '../auth/principal.decorator';
import type { Principal } from '../auth/principal';
import { RequirePermission } from '../auth/permission.decorator';
import { RequestError } from '../common/coded-error';
import { RunAcceptanceService } from '../engine/run-acceptance.service';
import { RunRedactor } from '../engine/run-redactor';
import { RunsService } from '../engine/runs.service';
import { RunbookCatalog } from '../runbooks/runbook-catalog.service';
import { StepRegistry } from '../steps/step-registry';
import { iamPolicyFor } from '../runbooks/iam-policy';
import { FleetAcceptanceService } from '../fleets/fleet-acceptance.service';
import type { FleetRequestBody } from '../fleets/fleet-request';
import { JsonSchemaPipe } from './json-schema.pipe';
import { apiRef } from './openapi-schemas';

interface CreateRunBody extends FleetRequestBody {
  parameters?: Record<string, unknown>;
  dryRun?: boolean;
  reason?: string;
}

/** Fields that make a request a fleet run; checked in depth by the fleet's own parser (fleets/fleet-request.ts). */
const FLEET_FIELDS = ['targets', 'maxConcurrency', 'maxErrors', 'maxConcurrencyPerAccountRegion', 'allowEmpty'] as const;

const createRunSchema: Record<string, any> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    parameters: { type: 'object' },
    dryRun: { type: 'boolean' },
    reason: { type: 'string', maxLength: 2000 },
    targets: {
      description: 'A fleet run: { resourceType, tags, accounts ("allowed" or ids), regions } or a list of ARNs or ids; the runbook needs a fleet: section',
      oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'string' } }],
    },
    maxConcurrency: {
      description: 'Fleet: targets running at once, a count or a percentage ("25%"); default 10',
      oneOf: [{ type: 'integer' }, { type: 'string' }],
    },
    maxErrors: {
      description: 'Fleet: failed targets tolerated before no further target starts, a count or a percentage; default 0',
      oneOf: [{ type: 'integer' }, { type: 'string' }],
    },
    maxConcurrencyPerAccountRegion: { type: 'integer', description: 'Fleet: targets of one account and region running at once' },
    allowEmpty: { type: 'boolean', description: 'Fleet: record a fleet whose targets resolve to nothing instead of answering 422' },
  },
};

@ApiTags('runbooks')
@ApiBearerAuth()
@Controller('v1/runbooks')
export class RunbooksController {
  constructor(
    private readonly catalog: RunbookCatalog,
    private readonly acceptance: RunAcceptanceService,
    private readonly runs: RunsService,
    private readonly steps: StepRegistry,
    private readonly fleets: FleetAcceptanceService,
  ) {}

  /** The least-privilege IAM policy for one runbook: every action its steps, guards and notifications can call. */
  @Get(':id/iam-policy')
  @RequirePermission('view')
  iamPolicy(@Param('id') id: string) {
    return iamPolicyFor([this.catalog.get(id).definition], this.steps);
  }

  @Get()
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('RunbookList') })
  list() {
    return { items: this.catalog.list().map((l) => summary(l.definition, l.digest)) };
  }

  @Get(':id')
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('RunbookDetail') })
  get(@Param('id') id: string) {
    const l = this.catalog.get(id);
    // A writeOnly value written into a trigger's or schedule's parameters in the YAML is a secret too.
    const triggers = new RunRedactor(l.definition, {}).apply(l.definition.triggers);
    return {
      ...summary(l.definition, l.digest),
      parameters: l.definition.parameters,
      guards: l.definition.guards,
      preflight: l.definition.preflight ?? [],
      steps: l.definition.steps,
      cleanup: l.definition.cleanup,
      triggers,
      fleet: l.definition.fleet ?? null,
    };
  }

  /** 202 with the new run; 200 with the existing one when the Idempotency-Key was seen before. */
  @Post(':id/runs')
  @HttpCode(202)
  @RequirePermission('run', 'trigger runs')
  @ApiBody({ schema: createRunSchema })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A repeat with the same key returns the same run (200)' })
  @ApiHeader({
    name: 'X-Runbookd-Client',
    required: false,
    description: '`cli` when the runbookd CLI sends the request: the run is recorded with trigger kind `cli`',
  })
  @ApiResponse({ status: 202, description: 'Accepted: the run is recorded and queued', schema: apiRef('RunView') })
  @ApiResponse({ status: 200, description: 'The run an earlier request with this Idempotency-Key started', schema: apiRef('RunView') })
  @ApiResponse({
    status: 400,
    description:
      'Bad parameters (each bad field is named) or a preflight check refused the run (PREFLIGHT_FAILED, naming what failed); nothing is recorded or queued',
    schema: apiRef('ApiErrorBody'),
  })
  @ApiResponse({ status: 409, description: 'Another unfinished run holds the concurrency key (named in details.holder)' })
  @ApiResponse({ status: 403, description: "A target (a fleet's account, role or region) is outside the allow-list (TARGET_NOT_ALLOWED, naming it)" })
  @ApiResponse({
    status: 422,
    description:
      "The Idempotency-Key was used with different parameters; or a fleet's targets resolve to nothing, name a type the runbook does not bind, lie outside its accounts or regions, or its rate control is not a count or a percentage",
  })
  async create(
    @Param('id') id: string,
    @Body(new JsonSchemaPipe<CreateRunBody>(createRunSchema)) body: CreateRunBody,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Headers('x-runbookd-client') client: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey)) {
      throw new RequestError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 200 visible ASCII characters', { field: 'Idempotency-Key' });
    }
    const common = {
      runbookId: id,
      parameters: body.parameters ?? {},
      dryRun: body.dryRun ?? false,
      reason: body.reason ?? null,
      // Who is always the authenticated principal; the client header only says through what.
      trigger: { kind: triggerKindOf(client), actor: principal.name, ...personFields(principal) },
      // Scoped to the caller: another key reusing the same Idempotency-Key must neither see nor block this run.
      dedupeKey: idempotencyKey ? `rest:${principal.name}:${id}:${idempotencyKey}` : null,
    };
    const fleetField = FLEET_FIELDS.find((f) => body[f] !== undefined);
    if (fleetField && body.targets === undefined) {
      throw new RequestError('INVALID_REQUEST', `${fleetField} is rate control for a fleet: it needs targets`, { field: fleetField });
    }
    const { run, created } = body.targets !== undefined ? await this.fleets.accept({ ...common, ...pickFleet(body) }) : await this.acceptance.accept(common);
    if (!created) reply.status(200);
    return { ...(await this.runs.view(run.id)), deduplicated: !created };
  }
}

/**
 * The trigger kind of a run started over the API: `cli` when the runbookd CLI says it sent the
 * request, `rest` otherwise. It is informational (the run list's filter, the report), never
 * a permission, so the header is believed; a value that is not one runbookd sends is refused so a
 * typo does not silently record the wrong kind.
 */
function triggerKindOf(client: string | undefined): 'rest' | 'cli' {
  if (client === undefined) return 'rest';
  if (client === 'cli') return 'cli';
  throw new RequestError('INVALID_REQUEST', 'X-Runbookd-Client must be "cli" (sent by the runbookd CLI) or absent', { field: 'X-Runbookd-Client' });
}

function pickFleet(body: CreateRunBody): FleetRequestBody {
  return Object.fromEntries(FLEET_FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]));
}

function summary(def: { id: string; title: string; description?: string }, digest: string) {
  return { id: def.id, title: def.title, description: def.description ?? null, digest, links: { runs: `/v1/runs?runbook=${def.id}` } };
}
