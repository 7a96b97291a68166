import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../../auth/roles.decorator';
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
  receive(@Body() body: unknown, @Headers() headers: Record<string, string | string[] | undefined>) {
    return this.webhook.receive(body, headers);
  }
}
