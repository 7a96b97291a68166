import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthError } from '../auth/auth.error';
import { clearedOidcBindingCookie, oidcBindingCookie, oidcBindingOf } from '../auth/oidc-cookie';
import { OidcSignInService } from '../auth/oidc-sign-in.service';
import { Public } from '../auth/permission.decorator';
import { sessionCookie } from '../auth/session-cookie';
import { SessionService } from '../auth/session.service';
import { RequestError } from '../common/coded-error';
import { AppConfig } from '../config/app.config';
import { html, htmlPage } from '../reports/html-page';
import { httpStatusOf } from './http-error.filter';

const REASON_TITLES: Record<string, string> = {
  bad_state: 'The sign-in could not be matched to one started here',
  idp_error: 'The identity provider did not sign you in',
  code_rejected: 'The identity provider refused the sign-in code',
  id_token_invalid: 'The identity provider’s ID token was refused',
  unknown_group: 'You are in no group runbookd knows',
  idp_unavailable: 'The identity provider could not be reached',
};

/**
 * SSO sign-in for the console (OpenID Connect, authorization code with PKCE). Public: these
 * routes are how a person without a session gets one. A refused callback is a page naming why
 * for a browser, the usual JSON error for anything else, and never a session.
 */
@ApiTags('session')
@Controller('v1/session/oidc')
export class OidcSessionController {
  constructor(
    private readonly signIn: OidcSignInService,
    private readonly sessions: SessionService,
    private readonly config: AppConfig,
  ) {}

  /** Whether the console should offer "Sign in with <provider>". */
  @Get()
  @Public()
  @ApiOkResponse({
    schema: { type: 'object', properties: { configured: { type: 'boolean' }, provider: { type: ['string', 'null'] }, startUrl: { type: ['string', 'null'] } } },
  })
  describe() {
    return this.signIn.enabled
      ? { configured: true, provider: this.signIn.providerName ?? null, startUrl: '/v1/session/oidc/start' }
      : { configured: false, provider: null, startUrl: null };
  }

  @Get('start')
  @Public()
  async start(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.assertEnabled();
    const s = await this.signIn.start();
    void reply
      .header('set-cookie', oidcBindingCookie(s.binding, this.config.oidc?.loginTtlSeconds ?? 600, this.secure(request)))
      .header('cache-control', 'no-store')
      .redirect(s.url.href, 302);
  }

  @Get('callback')
  @Public()
  async callback(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.assertEnabled();
    const query = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '');
    const secure = this.secure(request);
    reply.header('cache-control', 'no-store');
    try {
      const s = await this.signIn.finish(query, oidcBindingOf(request.headers.cookie), request.ip);
      void reply.header('set-cookie', [sessionCookie(s.token, this.sessions.ttlSeconds, secure), clearedOidcBindingCookie(secure)]).redirect('/#/', 303);
    } catch (err) {
      reply.header('set-cookie', clearedOidcBindingCookie(secure));
      if (!(err instanceof AuthError) || !wantsHtml(request)) throw err;
      const reason = typeof err.details.reason === 'string' ? err.details.reason : err.code;
      void reply
        .status(httpStatusOf(err))
        .type('text/html; charset=utf-8')
        .send(
          htmlPage({
            title: 'Sign-in refused',
            status: { tone: 'bad', text: reason },
            sections: [
              {
                id: 'why',
                title: REASON_TITLES[reason] ?? 'The sign-in was refused',
                body: html`<p>${err.message}</p><p>No session was opened. <a href="/">Back to the console</a> to sign in again.</p>`,
              },
            ],
          }),
        );
    }
  }

  private assertEnabled(): void {
    if (!this.signIn.enabled)
      throw new RequestError('NOT_FOUND', 'SSO is not configured on this runbookd (RUNBOOKD_OIDC_ISSUER is unset): sign in with an API key');
  }

  private secure(request: FastifyRequest): boolean {
    return this.config.http.publicUrl.startsWith('https:') || request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https';
  }
}

/** A browser navigating here asks for HTML first; an API client asks for JSON or anything. */
function wantsHtml(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? '');
  return accept.includes('text/html');
}
