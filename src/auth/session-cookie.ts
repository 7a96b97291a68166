/** The console's session cookie: its name, how it is read from a Cookie header and how it is set. */
export const SESSION_COOKIE = 'runbookd_session';
export const CSRF_HEADER = 'x-csrf-token';

/** The session token from a Cookie header; undefined when there is none (or more than one header). */
export function sessionTokenOf(cookieHeader: string | string[] | undefined): string | undefined {
  if (typeof cookieHeader !== 'string') return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/**
 * HttpOnly: page scripts never see the token. SameSite=Strict: no other site's page makes the
 * browser send it. Path=/ so report links (/v1/runs/:id/report) open with it. Secure whenever
 * the service is reached over https.
 */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return [`${SESSION_COOKIE}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`, ...(secure ? ['Secure'] : [])].join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}
