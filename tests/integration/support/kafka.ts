// Small Kafka helpers for tests, on the real broker from the harness.
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { inject } from 'vitest';

const { Kafka, logLevel, CompressionTypes } = kafkajs;

/** The shared test broker, or another one (a private broker a test started) at `brokers`. */
export function testKafka(brokers = inject('services').kafka.brokers): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'cdnkit-test', brokers, logLevel: logLevel.NOTHING });
}

/** Creates topics with unique names so tests never see each other's messages. */
export async function freshTopics<const T extends string>(roles: readonly T[], partitions = 1, brokers?: string[]): Promise<Record<T, string>> {
  const suffix = randomUUID().slice(0, 8);
  const names = Object.fromEntries(roles.map((r) => [r, `test-${r}-${suffix}`])) as Record<T, string>;
  const admin = testKafka(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: Object.values<string>(names).map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  return names;
}

export interface ReadMessage {
  value: string;
  headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning until `count` messages arrived (or `timeoutMs` passed), then
 * for `graceMs` more, so a test asserting an exact count also sees any message too many.
 */
export async function readMessages(topic: string, count: number, timeoutMs = 30_000, graceMs = 1000, brokers?: string[]): Promise<ReadMessage[]> {
  const consumer = testKafka(brokers).consumer({ groupId: `test-reader-${randomUUID()}`, maxWaitTimeInMs: 250 });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          messages.push({ value: message.value?.toString('utf8') ?? '', headers });
          if (messages.length === count) {
            clearTimeout(timer);
            setTimeout(resolve, graceMs);
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

export async function readTopic(topic: string, count: number, timeoutMs = 30_000, brokers?: string[]): Promise<string[]> {
  return (await readMessages(topic, count, timeoutMs, 0, brokers)).map((m) => m.value);
}

/**
 * Produces lines (acks from all replicas) in chunks, so a large stream is not one huge request;
 * with `everyMs`, one chunk per interval: a steady stream rather than a backlog. Gzip'd, as the
 * receivers produce: a consumer's fetch of a given size then holds about ten times more lines.
 */
export async function produceLines(topic: string, lines: string[], { chunk = 1000, everyMs = 0, brokers = undefined as string[] | undefined } = {}): Promise<void> {
  const producer = testKafka(brokers).producer();
  await producer.connect();
  try {
    for (let i = 0; i < lines.length; i += chunk) {
      const started = Date.now();
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: lines.slice(i, i + chunk).map((value) => ({ value })) });
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  } finally {
    await producer.disconnect();
  }
}
