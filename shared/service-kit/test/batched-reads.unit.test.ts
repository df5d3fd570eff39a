import { BatchedReads } from '../src/batched-reads';

/** A load whose statements the test answers by hand, recording the keys of each. */
function manualLoad() {
  const statements: { keys: string[]; answer(rows?: string[]): void; fail(e: Error): void }[] = [];
  const load = (keys: string[]) =>
    new Promise<Iterable<readonly [string, string]>>((resolve, reject) => {
      statements.push({
        keys,
        // By default every key but "missing-*" is found, its value the key upper-cased.
        answer: (rows = keys.filter((k) => !k.startsWith('missing'))) =>
          resolve(rows.map((k) => [k, k.toUpperCase()] as const)),
        fail: reject,
      });
    });
  return { load, statements };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchedReads', () => {
  it('sends a lone read by itself, a loop turn later', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load });
    const read = reads.get('a');
    expect(statements).toHaveLength(0);
    await turn();
    expect(statements.map((s) => s.keys)).toEqual([['a']]);
    statements[0]!.answer();
    await expect(read).resolves.toBe('A');
  });

  it('sends the reads of one loop turn together, each distinct key once', async () => {
    const { load, statements } = manualLoad();
    const sizes: number[] = [];
    const reads = new BatchedReads({ load, onBatch: (n) => sizes.push(n) });
    const answers = Promise.all(['a', 'b', 'a', 'missing-1'].map((k) => reads.get(k)));
    expect(reads.waiting).toBe(4);
    await turn();
    expect(reads.waiting).toBe(0);
    expect(statements.map((s) => s.keys)).toEqual([['a', 'b', 'missing-1']]);
    expect(sizes).toEqual([3]);
    statements[0]!.answer();
    await expect(answers).resolves.toEqual(['A', 'B', 'A', undefined]);
  });

  it('while inFlight statements run, gathers the next reads and sends them as one when one ends', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load, inFlight: 2 });
    const first = reads.get('a');
    await turn();
    const second = reads.get('b');
    await turn();
    // Two statements run; everything asked now waits for one of them.
    const later = ['c', 'd', 'e'].map((k) => reads.get(k));
    await turn();
    expect(statements.map((s) => s.keys)).toEqual([['a'], ['b']]);
    expect(reads.waiting).toBe(3);
    statements[1]!.answer();
    await expect(second).resolves.toBe('B');
    expect(statements.map((s) => s.keys)).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    statements[0]!.answer();
    statements[2]!.answer();
    await expect(first).resolves.toBe('A');
    await expect(Promise.all(later)).resolves.toEqual(['C', 'D', 'E']);
  });

  it('splits more keys than maxBatch over statements, first asked first sent', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load, maxBatch: 2, inFlight: 2 });
    const answers = Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => reads.get(k)));
    await turn();
    expect(statements.map((s) => s.keys)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    statements[0]!.answer();
    await turn();
    expect(statements.map((s) => s.keys)[2]).toEqual(['e']);
    statements[1]!.answer();
    statements[2]!.answer();
    await expect(answers).resolves.toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('fails every read of a failed statement, and goes on with the next ones', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load, inFlight: 1 });
    const failing = [reads.get('a'), reads.get('b')];
    await turn();
    const next = reads.get('c');
    statements[0]!.fail(new Error('connection terminated'));
    for (const read of failing) await expect(read).rejects.toThrow('connection terminated');
    expect(statements.map((s) => s.keys)[1]).toEqual(['c']);
    statements[1]!.answer();
    await expect(next).resolves.toBe('C');
  });

  it('refuses settings that could never send', () => {
    expect(() => new BatchedReads({ load: async () => [], inFlight: 0 })).toThrow(
      'maxBatch and inFlight must be at least 1',
    );
  });
});
