// Small Kafka helpers for tests, on the real broker from the harness.
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { inject } from 'vitest';

const { Kafka, logLevel } = kafkajs;

export function testKafka(): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'cdnkit-test', brokers: inject('services').kafka.brokers, logLevel: logLevel.NOTHING });
}

/** Creates topics with unique names so tests never see each other's messages. */
export async function freshTopics<const T extends string>(roles: readonly T[], partitions = 1): Promise<Record<T, string>> {
  const suffix = randomUUID().slice(0, 8);
  const names = Object.fromEntries(roles.map((r) => [r, `test-${r}-${suffix}`])) as Record<T, string>;
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: Object.values<string>(names).map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  return names;
}

/** Reads a topic from the beginning until `count` messages arrived or `timeoutMs` passed. */
export async function readTopic(topic: string, count: number, timeoutMs = 30_000): Promise<string[]> {
  const consumer = testKafka().consumer({ groupId: `test-reader-${randomUUID()}` });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value?.toString('utf8') ?? '');
          if (values.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}
