import { GroupCommit } from '../../src/persistence/group-commit';

/** A write function that records each batch and answers when the test lets it. */
function recorder() {
  const batches: string[][] = [];
  const pending: (() => void)[] = [];
  const write = (items: string[]) => {
    batches.push([...items]);
    return new Promise<(string | Error)[]>((resolve) =>
      pending.push(() => resolve(items.map((i) => (i.startsWith('bad') ? new Error(`refused ${i}`) : `ok:${i}`)))),
    );
  };
  const release = async () => {
    while (pending.length > 0) pending.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, write, release };
}

describe('GroupCommit', () => {
  it('sends a lone write at once, and gathers the writes that arrive while it is in flight into the next batch', async () => {
    const r = recorder();
    const gc = new GroupCommit<string, string>(r.write, { maxBatch: 10, maxInFlight: 1 });
    const first = gc.submit('a');
    expect(r.batches).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((x) => gc.submit(x));
    expect(r.batches).toHaveLength(1);
    await r.release();
    expect(r.batches).toEqual([['a'], ['b', 'c', 'd']]);
    await r.release();
    expect(await Promise.all([first, ...rest])).toEqual(['ok:a', 'ok:b', 'ok:c', 'ok:d']);
  });

  it('never puts two conflicting writes (the same run) in one batch, and keeps their order', async () => {
    const r = recorder();
    const gc = new GroupCommit<string, string>(r.write, { maxBatch: 10, maxInFlight: 1, conflicts: (a, b) => a[0] === b[0] });
    const all = ['x0', 'y0', 'x1', 'x2', 'y1'].map((x) => gc.submit(x));
    for (let i = 0; i < 4; i++) await r.release();
    await Promise.all(all);
    for (const batch of r.batches) expect(new Set(batch.map((b) => b[0])).size).toBe(batch.length);
    const order = r.batches.flat();
    expect(order.filter((x) => x[0] === 'x')).toEqual(['x0', 'x1', 'x2']);
    expect(order.filter((x) => x[0] === 'y')).toEqual(['y0', 'y1']);
  });

  it('fails only the write refused on its own; a statement that fails for all is split and each write tried alone', async () => {
    let calls = 0;
    const gc = new GroupCommit<string, string>(
      async (items) => {
        calls++;
        if (items.length > 1 && items.includes('poison')) throw new Error('the whole statement failed');
        if (items[0] === 'poison') throw new Error('poison refused');
        return items.map((i) => (i === 'bad' ? new Error('bad refused') : `ok:${i}`));
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const first = gc.submit('warm');
    const results = await Promise.allSettled([first, ...['a', 'poison', 'b', 'bad'].map((x) => gc.submit(x))]);
    expect(results.map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).message))).toEqual([
      'ok:warm',
      'ok:a',
      'poison refused',
      'ok:b',
      'bad refused',
    ]);
    expect(calls).toBe(6); // warm; the batch of four; then each of the four alone
  });

  it('hands a transient error to every write in the batch without splitting it (each caller retries)', async () => {
    let calls = 0;
    const gc = new GroupCommit<string, string>(
      async () => {
        calls++;
        throw Object.assign(new Error('connection lost'), { transient: true });
      },
      { maxBatch: 10, maxInFlight: 1, isTransient: (e) => (e as { transient?: boolean }).transient === true },
    );
    const busy = gc.submit('first');
    const batch = ['a', 'b', 'c'].map((x) => gc.submit(x));
    const results = await Promise.allSettled([busy, ...batch]);
    expect(results.every((x) => x.status === 'rejected' && (x.reason as Error).message === 'connection lost')).toBe(true);
    expect(calls).toBe(2);
  });

  it('keeps at most maxInFlight statements open and at most maxBatch writes in one', async () => {
    const r = recorder();
    const gc = new GroupCommit<string, string>(r.write, { maxBatch: 3, maxInFlight: 2 });
    const all = Array.from({ length: 10 }, (_, i) => gc.submit(`w${i}`));
    expect(r.batches).toHaveLength(2);
    for (let i = 0; i < 6; i++) await r.release();
    await Promise.all(all);
    expect(r.batches.every((b) => b.length <= 3)).toBe(true);
    expect(r.batches.flat().sort()).toEqual(Array.from({ length: 10 }, (_, i) => `w${i}`).sort());
  });
});
