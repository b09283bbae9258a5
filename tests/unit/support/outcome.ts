// What a sink's answer must come to, checked the same way for every sink's response table.
import { expect } from 'vitest';
import type { SourceRecord, WriteOutcome } from '../../../src/bridge/sink.js';

export type Expected = 'written' | 'retry' | 'hold' | 'dead-letter';

export function expectSorted(outcome: WriteOutcome, one: SourceRecord, expected: Expected, reason: RegExp): void {
  switch (expected) {
    case 'written':
      expect(outcome).toEqual({ rejected: [], retry: [] });
      break;
    case 'retry':
    case 'hold':
      expect(outcome.rejected).toEqual([]);
      expect(outcome.retry).toEqual([one]);
      expect(outcome.hold ?? false).toBe(expected === 'hold');
      expect(outcome.retryReason).toMatch(reason);
      break;
    case 'dead-letter':
      expect(outcome.retry).toEqual([]);
      expect(outcome.rejected).toEqual([{ record: one, reason: expect.stringMatching(reason) }]);
  }
}
