/**
 * PostgreSQL refuses some text JavaScript accepts: the NUL character (U+0000) in text and jsonb,
 * and lone UTF-16 surrogates (jsonb rejects the escape JSON.stringify writes for them). Input
 * holding either must be refused with a 4xx naming where it is, not fail at the INSERT with a 500.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The dotted path of the first string (or object key) PostgreSQL cannot store, or null. */
export function unstorableTextPath(value: unknown, at = ''): string | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? at || '(value)' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = unstorableTextPath(value[i], `${at}[${i}]`);
      if (p) return p;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = at ? `${at}.${k}` : k;
      if (UNSTORABLE.test(k)) return here;
      const p = unstorableTextPath(v, here);
      if (p) return p;
    }
  }
  return null;
}
