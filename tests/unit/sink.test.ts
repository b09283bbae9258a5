// What both sinks share: reading Retry-After, and merging the outcomes of a split batch.
import { describe, expect, it } from 'vitest';
import { combine, retryAfterMs, written, type SourceRecord } from '../../src/bridge/sink.js';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-29T01:00:00Z');
  it.each([
    ['delay-seconds', '7', 7000],
    ['an HTTP date a minute ahead', 'Sun, 29 Nov 2026 01:01:00 GMT', 60_000],
    ['the first of repeated headers', ['3', '9'], 3000],
    ['an HTTP date already past', 'Sun, 29 Nov 2026 00:59:00 GMT', undefined],
    ['zero', '0', undefined],
    ['neither', 'soon', undefined],
    ['absent', undefined, undefined],
  ] satisfies [string, string | string[] | undefined, number | undefined][])('%s', (_what, header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });
});

describe('combine', () => {
  const record = (offset: number): SourceRecord => ({ topic: 't', partition: 0, offset: String(offset), timestamp: '0', key: null, value: null });
  it('keeps a hold, names it before a mere retry, and waits the longest Retry-After', () => {
    const merged = combine(
      { rejected: [], retry: [record(1)], retryReason: 'busy', retryAfterMs: 2000 },
      written(),
      { rejected: [], retry: [record(2)], retryReason: 'read-only', hold: true },
      { rejected: [{ record: record(3), reason: 'unmappable' }], retry: [], retryAfterMs: 5000 },
    );
    expect(merged).toEqual({ rejected: [{ record: record(3), reason: 'unmappable' }], retry: [record(1), record(2)], retryReason: 'read-only', retryAfterMs: 5000, hold: true });
  });
});
