import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/** A queue prefix no other suite or process uses; fits RUNBOOKD_QUEUE_PREFIX's [A-Za-z0-9_-]. */
export function uniqueQueuePrefix(label = 'test'): string {
  return `rbt-${label.replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `<prefix>:`; returns how many were deleted. */
export async function flushPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  // SCAN, not KEYS: the server may be shared with a running demo or other suites.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  let cursor = '0';
  let deleted = 0;
  try {
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
  return deleted;
}
