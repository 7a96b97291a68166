/**
 * PostgreSQL refuses some text JavaScript accepts: the NUL character (U+0000) in text and jsonb,
 * and lone UTF-16 surrogates (jsonb rejects the escape JSON.stringify writes for them). Input
 * holding either must be refused with a 4xx naming where it is, not fail at the INSERT with a 500.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The dotted path of the first string (or object key) PostgreSQL cannot store, or null. Walked
 * with an explicit stack, depth first in document order, so no nesting can exhaust the call stack.
 */
export function unstorableTextPath(value: unknown, at = ''): string | null {
  // Each entry carries its key, checked when the entry is reached: the same order a recursive walk takes.
  const stack: Array<{ v: unknown; here: string; key?: string }> = [{ v: value, here: at }];
  while (stack.length > 0) {
    const { v, here, key } = stack.pop()!;
    if (key !== undefined && UNSTORABLE.test(key)) return here;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return here || '(value)';
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], here: `${here}[${i}]` });
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i];
        stack.push({ v: child, here: here ? `${here}.${k}` : k, key: k });
      }
    }
  }
  return null;
}
