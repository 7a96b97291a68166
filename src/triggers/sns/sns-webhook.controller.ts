import { Body, Controller, Headers, HttpCode, Ip, Post } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../../auth/permission.decorator';
import { SnsWebhookService } from './sns-webhook.service';

@ApiTags('webhooks')
@Controller('v1/webhooks')
export class SnsWebhookController {
  constructor(private readonly webhook: SnsWebhookService) {}

  /** No API key: the SNS signature is the authentication, checked before anything else happens. */
  @Post('sns')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Amazon SNS HTTP(S) endpoint: signed alarm notifications and subscription confirmations' })
  @ApiConsumes('text/plain')
  @ApiBody({ description: 'The SNS message JSON, as SNS posts it (text/plain; charset=UTF-8)', schema: { type: 'string' } })
  @ApiResponse({
    status: 200,
    description: 'Handled: { type, messageId, outcome, runs: [{ runbookId, outcome, runId }] }; sent only after each run is committed',
  })
  @ApiResponse({ status: 400, description: 'SNS_MESSAGE_INVALID, SNS_CERT_URL_REJECTED (nothing fetched) or SNS_MESSAGE_STALE' })
  @ApiResponse({ status: 403, description: 'SNS_SIGNATURE_INVALID or SNS_TOPIC_NOT_ACCEPTED' })
  @ApiResponse({ status: 413, description: 'Body over RUNBOOKD_SNS_BODY_LIMIT_BYTES' })
  @ApiResponse({ status: 429, description: 'More than RUNBOOKD_SNS_RATE_LIMIT_PER_MINUTE posts from this address in a minute: refused before any work' })
  @ApiResponse({ status: 503, description: 'SNS_CERT_UNAVAILABLE: the signing certificate could not be fetched now (SNS retries)' })
  receive(@Body() body: unknown, @Headers() headers: Record<string, string | string[] | undefined>, @Ip() source: string) {
    return this.webhook.receive(body, headers, source);
  }
}
