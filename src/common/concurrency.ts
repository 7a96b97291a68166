/**
 * `fn` over every item with at most `limit` in flight; results in the items' order. For reads
 * that are many independent requests (DescribeServices in tens, GetMetricData batches), where one
 * at a time would make the report's wall time the sum of every round trip.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
