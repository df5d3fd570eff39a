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
  it('sends a read at once when none runs', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load });
    const read = reads.get('a');
    expect(statements.map((s) => s.keys)).toEqual([['a']]);
    statements[0]!.answer();
    await expect(read).resolves.toBe('A');
  });

  it('while one runs, sends the reads of a loop turn together, each distinct key once', async () => {
    const { load, statements } = manualLoad();
    const sizes: number[] = [];
    const reads = new BatchedReads({ load, onBatch: (n) => sizes.push(n) });
    const answers = Promise.all(['first', 'a', 'b', 'a', 'missing-1'].map((k) => reads.get(k)));
    expect(reads.waiting).toBe(4);
    expect(statements.map((s) => s.keys)).toEqual([['first']]);
    await turn();
    expect(reads.waiting).toBe(0);
    expect(statements.map((s) => s.keys)).toEqual([['first'], ['a', 'b', 'missing-1']]);
    expect(sizes).toEqual([1, 3]);
    statements.forEach((statement) => statement.answer());
    await expect(answers).resolves.toEqual(['FIRST', 'A', 'B', 'A', undefined]);
  });

  it('while inFlight statements run, gathers the next reads and sends them as one when one ends', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load, inFlight: 2 });
    const first = reads.get('a');
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
    const answers = Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => reads.get(k)));
    await turn();
    expect(statements.map((s) => s.keys)).toEqual([['a'], ['b', 'c']]);
    statements[0]!.answer();
    await turn();
    expect(statements.map((s) => s.keys)[2]).toEqual(['d', 'e']);
    statements[2]!.answer();
    await turn();
    expect(statements.map((s) => s.keys)[3]).toEqual(['f']);
    statements[3]!.answer();
    statements[1]!.answer();
    await expect(answers).resolves.toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  it('fails every read of a failed statement, and goes on with the next ones', async () => {
    const { load, statements } = manualLoad();
    const reads = new BatchedReads({ load, inFlight: 1 });
    const failing = reads.get('a');
    // Never joined to a statement already sent: it may have started before a write this read must see.
    const next = [reads.get('a'), reads.get('c')];
    statements[0]!.fail(new Error('connection terminated'));
    await expect(failing).rejects.toThrow('connection terminated');
    expect(statements.map((s) => s.keys)[1]).toEqual(['a', 'c']);
    statements[1]!.answer();
    await expect(Promise.all(next)).resolves.toEqual(['A', 'C']);
  });

  it('refuses settings that could never send', () => {
    expect(() => new BatchedReads({ load: async () => [], inFlight: 0 })).toThrow(
      'maxBatch and inFlight must be at least 1',
    );
  });
});
