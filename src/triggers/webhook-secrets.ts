import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Whether `given` is one of the keys whose SHA-256 is configured. Every configured hash is
 * compared, in constant time, whatever matched: neither the answer's timing nor its position
 * says how much of a guess was right, or which key of a rotation it was.
 */
export function matchesKeyHash(given: string, sha256Hex: readonly string[]): boolean {
  const digest = createHash('sha256').update(given, 'utf8').digest();
  let ok = false;
  for (const h of sha256Hex) ok = timingSafeEqual(digest, Buffer.from(h, 'hex')) || ok;
  return ok;
}

/** HMAC-SHA256 of the raw bytes, hex. */
export function hmacHex(secret: string, ...parts: Array<string | Buffer>): string {
  const mac = createHmac('sha256', secret);
  for (const p of parts) mac.update(p);
  return mac.digest('hex');
}

/** Constant-time equality of two hex digests (a length mismatch is false, at once: lengths are public). */
export function sameHex(a: string, b: string): boolean {
  if (!/^[0-9a-f]+$/i.test(a) || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a.toLowerCase(), 'hex'), Buffer.from(b.toLowerCase(), 'hex'));
}

/** The raw request body as it arrived (registered by the JSON and form parsers for webhook routes). */
export function rawBodyOf(req: unknown): Buffer | null {
  const raw = (req as { rawBody?: unknown } | null)?.rawBody;
  return Buffer.isBuffer(raw) ? raw : null;
}
