import { Body, Controller, Headers, HttpCode, Ip, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../../auth/permission.decorator';
import { EventBridgeWebhookService } from './eventbridge-webhook.service';

@ApiTags('webhooks')
@Controller('v1/webhooks')
export class EventBridgeWebhookController {
  constructor(private readonly webhook: EventBridgeWebhookService) {}

  /** No runbookd API key: the EventBridge connection's own key (RUNBOOKD_EVENTBRIDGE_API_KEY_HEADER) is checked first. */
  @Post('eventbridge')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'EventBridge API destination: CloudWatch "Alarm State Change" events, confirmed at CloudWatch like SNS alarms' })
  @ApiBody({ description: 'The EventBridge event, as the API destination posts it', schema: { type: 'object' } })
  @ApiResponse({ status: 200, description: 'Handled: { eventId, outcome, runs: [{ runbookId, outcome, runId }] }; sent only after each run is committed' })
  @ApiResponse({ status: 400, description: 'WEBHOOK_EVENT_INVALID: not a CloudWatch alarm event' })
  @ApiResponse({ status: 401, description: 'WEBHOOK_UNAUTHENTICATED: the API-key header is missing or wrong' })
  @ApiResponse({ status: 403, description: 'SNS_ALARM_NOT_CONFIRMED: CloudWatch does not confirm the state change' })
  @ApiResponse({ status: 404, description: 'WEBHOOK_NOT_CONFIGURED: no key is configured' })
  @ApiResponse({ status: 503, description: 'SNS_ALARM_SOURCE_UNAVAILABLE: CloudWatch could not be asked now (EventBridge retries)' })
  receive(@Body() body: unknown, @Headers() headers: Record<string, string | string[] | undefined>, @Ip() source: string) {
    return this.webhook.receive(body, headers, source);
  }
}
