/** What a dead letter says, and what a redrive sends back: pure. */
import { WARREN_HEADERS as H } from '@warren/contracts';
import { describeDeadLetter, parseReasons, redriveHeaders } from '../src/engine/dead-letters';

describe('describeDeadLetter', () => {
  it('reads the failure headers (Buffers too, as amqplib may give them)', () => {
    const summary = describeDeadLetter({
      content: Buffer.from('{"a":1}'),
      properties: {
        messageId: 'm-1',
        headers: {
          [H.reason]: Buffer.from('non-retryable'),
          [H.attempt]: 1,
          [H.error]: 'ValidationError: email taken',
          [H.originalRoutingKey]: 'user.created',
          [H.correlationId]: 'c-1',
          [H.redrives]: 2,
        },
      },
    });
    expect(summary).toMatchObject({
      messageId: 'm-1',
      eventType: 'user.created',
      reason: 'non-retryable',
      attempts: 1,
      error: 'ValidationError: email taken',
      correlationId: 'c-1',
      redrives: 2,
      bytes: 7,
    });
  });

  it('says unknown for a message that did not come from the consumer protocol', () => {
    const summary = describeDeadLetter({ content: Buffer.alloc(0), properties: {} });
    expect(summary).toMatchObject({
      reason: 'unknown',
      attempts: null,
      messageId: null,
      redrives: 0,
    });
  });
});

describe('redriveHeaders', () => {
  it('clears the failure state, keeps where it came from and everything else, counts the redrive', () => {
    const at = new Date('2026-11-30T12:00:00Z');
    const once = redriveHeaders(
      {
        [H.attempt]: 3,
        [H.reason]: 'retries-exhausted',
        [H.error]: 'boom',
        [H.errorKind]: 'Error',
        [H.firstFailureAt]: 'then',
        [H.lastFailureAt]: 'later',
        [H.originalExchange]: 'user.events',
        [H.originalQueue]: 'q',
        'x-death': [{ count: 2 }],
        'x-first-death-queue': 'q.retry.1s',
        'x-custom': 'kept',
      },
      at,
    );
    expect(once).toEqual({
      [H.originalExchange]: 'user.events',
      [H.originalQueue]: 'q',
      'x-custom': 'kept',
      [H.redrives]: 1,
      [H.redrivenAt]: '2026-11-30T12:00:00.000Z',
    });
    expect(redriveHeaders(once, at)[H.redrives]).toBe(2);
  });
});

describe('parseReasons', () => {
  it('takes known reasons, comma-separated, and names an unknown one', () => {
    expect(parseReasons(undefined)).toBeUndefined();
    expect(parseReasons('retries-exhausted, non-retryable')).toEqual([
      'retries-exhausted',
      'non-retryable',
    ]);
    expect(() => parseReasons('retries-exhausted,bored')).toThrow('not "bored"');
    expect(() => parseReasons(',')).toThrow('--reason takes');
  });
});
