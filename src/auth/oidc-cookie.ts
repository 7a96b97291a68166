/**
 * The browser's half of a started SSO sign-in. SameSite=Lax, not Strict: the provider sends the
 * browser back with a cross-site top-level GET, and a Strict cookie would not come with it. Path
 * limits it to the sign-in routes, and it lives only as long as a sign-in may take.
 */
export const OIDC_BINDING_COOKIE = 'runbookd_oidc';
const PATH = '/v1/session/oidc';

export function oidcBindingCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [`${OIDC_BINDING_COOKIE}=${value}`, `Path=${PATH}`, 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`, ...(secure ? ['Secure'] : [])].join('; ');
}

export function clearedOidcBindingCookie(secure: boolean): string {
  return oidcBindingCookie('', 0, secure);
}

export function oidcBindingOf(cookieHeader: string | string[] | undefined): string | undefined {
  if (typeof cookieHeader !== 'string') return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === OIDC_BINDING_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
