// The dead-letter topic: every line a bridge cannot deliver goes here, unchanged (out of a
// receiver's envelope when a sink took it out: Rejected.value), with the reason and where it came
// from in headers — so it can be read, fixed and replayed.
import type { Producer } from 'kafkajs';
import type { Rejected, ResponseRule } from './sink.js';

export const DEAD_LETTER_HEADERS = {
  reason: 'cdnkit-reason',
  bridge: 'cdnkit-bridge',
  topic: 'cdnkit-source-topic',
  partition: 'cdnkit-source-partition',
  offset: 'cdnkit-source-offset',
} as const;

/** The kind of a reason, for a metric label: the text up to the first colon. */
export function reasonKind(reason: string): string {
  return reason.split(':', 1)[0]!.trim().slice(0, 60);
}

/** The reason kinds of a sink: those of its response table's dead-letter rows, and its own. */
export function deadLetterKinds(table: readonly ResponseRule[], own: readonly string[]): string[] {
  const fromTable = table.filter((r) => r.verdict === 'dead-letter' || r.verdict === 'split').map((r) => reasonKind(r.meaning));
  return [...new Set([...own, ...fromTable])];
}

export async function deadLetter(producer: Producer, topic: string, bridge: string, rejected: Rejected[]): Promise<void> {
  if (rejected.length === 0) return;
  await producer.send({
    topic,
    // All in-sync replicas: a dead letter is the only copy of a line the sinks refused.
    acks: -1,
    messages: rejected.map(({ record, reason, value }) => ({
      key: record.key,
      value: value ?? record.value,
      headers: {
        [DEAD_LETTER_HEADERS.reason]: reason,
        [DEAD_LETTER_HEADERS.bridge]: bridge,
        [DEAD_LETTER_HEADERS.topic]: record.topic,
        [DEAD_LETTER_HEADERS.partition]: String(record.partition),
        [DEAD_LETTER_HEADERS.offset]: record.offset,
      },
    })),
  });
}
