/**
 * How deep JSON may nest in anything runbookd is sent. Request bodies are small documents (a run's
 * parameters, a reason, a key); 64 levels is far beyond any of them and far below where the
 * recursive walks that follow (JSON.stringify, canonical JSON, redaction, expression resolution)
 * would exhaust the stack. Counting happens on the text, without recursion, before anything walks it.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and arrays in JSON text (0 for a scalar), counted in one pass. */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) max = depth;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return max;
}

/** The deepest nesting of objects and arrays in a parsed value, walked with an explicit stack. */
export function valueDepth(value: unknown, stopAbove = Infinity): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const here = d + 1;
    if (here > max) {
      max = here;
      if (max > stopAbove) return max;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, here]);
  }
  return max;
}

/** The sentence a refusal carries, so every place that counts says it the same way. */
export function tooDeepMessage(what: string, depth: number): string {
  return `${what} is nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`;
}
