import { Body, Controller, Delete, Get, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal';
import { CurrentPrincipal } from '../auth/principal.decorator';
import { Public, RequirePermission } from '../auth/permission.decorator';
import { clearedSessionCookie, sessionCookie, sessionTokenOf } from '../auth/session-cookie';
import { SessionService } from '../auth/session.service';
import { AppConfig } from '../config/app.config';
import { PolicyService } from '../policy/policy.service';
import { POLICY_ACTIONS, type PolicyAction } from '../policy/policy.types';
import { JsonSchemaPipe } from './json-schema.pipe';
import { apiRef } from './openapi-schemas';

interface SignInBody {
  apiKey: string;
}

const signInSchema: Record<string, any> = {
  type: 'object',
  additionalProperties: false,
  required: ['apiKey'],
  properties: { apiKey: { type: 'string', minLength: 1, maxLength: 512, pattern: '^\\S+$' } },
};

/** Web console sign-in: an API key in, a session cookie out; sign-out revokes it. */
@ApiTags('session')
@Controller('v1/session')
export class SessionController {
  constructor(
    private readonly sessions: SessionService,
    private readonly config: AppConfig,
    private readonly policy: PolicyService,
  ) {}

  /** What the console may offer (the start form, cancel, approve); the API still decides each request. */
  private may(principal: Principal): PolicyAction[] {
    return POLICY_ACTIONS.filter((a) => this.policy.decide(principal, a).allowed);
  }

  @Post()
  @HttpCode(200)
  @Public()
  @ApiBody({ schema: signInSchema })
  @ApiOkResponse({ schema: apiRef('Session') })
  async signIn(
    @Body(new JsonSchemaPipe<SignInBody>(signInSchema)) body: SignInBody,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const s = await this.sessions.signIn(body.apiKey, request.ip);
    reply.header('set-cookie', sessionCookie(s.token, this.sessions.ttlSeconds, this.secure(request)));
    reply.header('cache-control', 'no-store');
    return {
      name: s.principal.name,
      role: s.principal.role,
      groups: s.principal.groups,
      may: this.may(s.principal),
      csrfToken: s.csrfToken,
      expiresAt: s.expiresAt.toISOString(),
    };
  }

  /** Who is signed in; with a session cookie, also the CSRF token (the console reads it after a reload). */
  @Get()
  @RequirePermission('view')
  @ApiOkResponse({ schema: apiRef('Session') })
  async current(
    @CurrentPrincipal() principal: Principal,
    @Headers('cookie') cookie: string | undefined,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    reply.header('cache-control', 'no-store');
    const token = authorization === undefined ? sessionTokenOf(cookie) : undefined;
    if (token === undefined)
      return { name: principal.name, role: principal.role, groups: principal.groups, may: this.may(principal), csrfToken: null, expiresAt: null };
    const s = await this.sessions.current(token);
    return {
      name: s.principal.name,
      role: s.principal.role,
      groups: s.principal.groups,
      may: this.may(s.principal),
      csrfToken: s.csrfToken,
      expiresAt: s.expiresAt.toISOString(),
    };
  }

  /** Sign out: the session is revoked server-side (a copied cookie stops working too) and the cookie cleared. */
  @Delete()
  @HttpCode(204)
  @RequirePermission('view')
  async signOut(@Headers('cookie') cookie: string | undefined, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const token = sessionTokenOf(cookie);
    if (token !== undefined) await this.sessions.signOut(token);
    reply.header('set-cookie', clearedSessionCookie(this.secure(request)));
  }

  /** Secure whenever people reach the service over https (directly, or through a TLS-terminating proxy). */
  private secure(request: FastifyRequest): boolean {
    return this.config.http.publicUrl.startsWith('https:') || request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https';
  }
}
