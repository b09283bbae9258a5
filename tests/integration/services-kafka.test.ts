// Checks that the Node Kafka client cdnkit ships (kafkajs 2.2.4) works against a real Kafka 4.x broker.
// Kafka 4.0 removed old protocol versions (KIP-896); kafkajs picks min(its newest version, broker's newest)
// for every API and never checks the broker's oldest, so an API whose kafkajs max is below the broker's
// min would break. The first test proves there is none among the APIs kafkajs implements; the others
// exercise the paths cdnkit depends on end to end.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import kafkajs, { type Consumer, type EachMessagePayload, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progress } from '../../src/local/progress.js';
import { startKafka, type RunningKafka } from '../../src/local/services/kafka.js';
import { freePort } from '../../src/local/process.js';

const { CompressionTypes, Kafka, logLevel, Partitioners } = kafkajs;

let kafka: RunningKafka;
// Unique names per run: the broker may be a reused, long-running one that has seen earlier runs.
const run = Date.now().toString(36);

beforeAll(async () => {
  const started = Date.now();
  kafka = await startKafka({ partitions: { 'cdn-logs': 3, 'cdn-metrics': 3 } });
  progress(`kafka: ready at ${kafka.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (started: ${kafka.started})`);
});

afterAll(async () => {
  if (kafka?.pid) progress(`kafka: broker JVM resident memory ${rssMiB(kafka.pid)} MiB`);
  await kafka?.stop();
});

function client(clientId: string) {
  return new Kafka({
    clientId,
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 15 },
  });
}

function producerOf(k: InstanceType<typeof Kafka>): Producer {
  return k.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

describe('kafkajs 2.2.4 against a real Kafka 4.x broker', () => {
  it('negotiates a version the broker accepts for every API kafkajs implements (KIP-896)', async () => {
    const require = createRequire(import.meta.url);
    // kafkajs internals: its request definitions (the versions it implements) and the API key table.
    const { requests } = require('kafkajs/src/protocol/requests') as {
      requests: Record<string, { versions: string[] }>;
    };
    const apiKeys = require('kafkajs/src/protocol/requests/apiKeys') as Record<string, number>;
    const broker = await brokerApiVersions(kafka.brokers[0]!);
    const rows: string[] = [];
    const broken: string[] = [];
    for (const [api, definition] of Object.entries(requests)) {
      const implemented = definition.versions.map(Number);
      if (implemented.length === 0) continue; // not implemented by kafkajs at all
      const range = broker.get(apiKeys[api]!);
      const kafkajsMax = Math.max(...implemented);
      const chosen = range ? Math.min(kafkajsMax, range.max) : undefined;
      const ok = range !== undefined && chosen! >= range.min;
      rows.push(`${api.padEnd(28)} kafkajs ≤v${kafkajsMax}  broker v${range ? `${range.min}-${range.max}` : '—'}  → v${chosen ?? '—'} ${ok ? 'ok' : 'BROKEN'}`);
      if (!ok) broken.push(api);
    }
    progress(`kafka: API versions kafkajs would use against this broker:\n  ${rows.join('\n  ')}`);
    expect(broken).toEqual([]);
  });

  it('creates topics with the configured partition counts, grows them, and applies ACLs', async () => {
    const admin = client('t-admin').admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: ['cdn-logs', 'cdn-metrics'] });
      expect(meta.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
        ['cdn-logs', 3],
        ['cdn-metrics', 3],
      ]);
      // Idempotent: calling again with a larger count grows the topic, never shrinks or fails.
      await kafka.ensureTopics({ [`t-grow-${run}`]: 2 });
      await kafka.ensureTopics({ [`t-grow-${run}`]: 4 });
      const grown = await admin.fetchTopicMetadata({ topics: [`t-grow-${run}`] });
      expect(grown.topics[0]!.partitions).toHaveLength(4);

      const { AclResourceTypes: ResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;
      const acl = {
        resourceType: ResourceTypes.TOPIC,
        resourceName: 'cdn-logs',
        resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: 'User:edge-client-1',
        host: '*',
        operation: AclOperationTypes.WRITE,
        permissionType: AclPermissionTypes.ALLOW,
      };
      await admin.createAcls({ acl: [acl] });
      await waitFor('the ACL to be visible', async () => {
        const found = await admin.describeAcls({
          resourceType: ResourceTypes.TOPIC,
          resourceName: 'cdn-logs',
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:edge-client-1',
          host: '*',
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        });
        return found.resources.some((r) => r.acls.some((a) => a.principal === 'User:edge-client-1'));
      });
      await admin.deleteAcls({ filters: [acl] });
    } finally {
      await admin.disconnect();
    }
  });

  it('produces (gzip) and consumes in a group with manual commits, and a restarted consumer resumes after them', async () => {
    const topic = `t-commit-${run}`;
    const groupId = `g-commit-${run}`;
    await kafka.ensureTopics({ [topic]: 3 });
    const k = client(`t-commit-${run}`);
    const producer = producerOf(k);
    await producer.connect();
    const values = Array.from({ length: 30 }, (_, i) => `line-${i}`);
    // gzip, as the edge producers are tuned to send.
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: values.map((value, i) => ({ key: `k${i}`, value })) });

    const seen: string[] = [];
    let consumer = k.consumer({ groupId, maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }: EachMessagePayload) => {
        seen.push(String(message.value));
        // Commit only after "the sink acknowledged": here, after recording the message.
        await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
    await waitFor('all 30 messages', () => seen.length >= 30);
    await consumer.disconnect();
    expect([...seen].sort()).toEqual([...values].sort());

    const admin = k.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = (rows: { partition: number; offset: string }[]) =>
      Object.fromEntries(rows.map((r) => [r.partition, r.offset]));
    expect(byPartition(committed!.partitions)).toEqual(byPartition(ends));
    await admin.disconnect();

    // A new member of the same group starts from the committed offsets: it sees only the new messages.
    await producer.send({ topic, acks: -1, messages: [{ key: 'x', value: 'after-restart' }] });
    const later: string[] = [];
    consumer = k.consumer({ groupId, maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => void later.push(String(message.value)) });
    await waitFor('the new message', () => later.length >= 1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(later).toEqual(['after-restart']);
    await consumer.disconnect();
    await producer.disconnect();
  });

  it('rebalances a group: two members split the partitions, the survivor takes all when one leaves', async () => {
    const topic = `t-rebalance-${run}`;
    const groupId = `g-rebalance-${run}`;
    await kafka.ensureTopics({ [topic]: 4 });
    const k = client(`t-rebalance-${run}`);
    const assigned = new Map<string, number[]>();
    const received = new Map<string, string[]>();

    const member = async (name: string): Promise<Consumer> => {
      const consumer = k.consumer({ groupId, maxWaitTimeInMs: 500, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        assigned.set(name, [...(event.payload.memberAssignment[topic] ?? [])].sort());
      });
      received.set(name, []);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          received.get(name)!.push(`${partition}:${String(message.value)}`);
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
      return consumer;
    };
    const sendToEachPartition = async (producer: Producer, tag: string) => {
      await producer.send({
        topic,
        acks: -1,
        messages: [0, 1, 2, 3].map((partition) => ({ partition, value: `${tag}-${partition}` })),
      });
    };
    const producer = producerOf(k);
    await producer.connect();

    const a = await member('a');
    await waitFor('a to own all 4 partitions', () => assigned.get('a')?.length === 4);
    const b = await member('b');
    await waitFor('the 4 partitions to be split 2/2', () => assigned.get('a')?.length === 2 && assigned.get('b')?.length === 2);
    expect([...assigned.get('a')!, ...assigned.get('b')!].sort()).toEqual([0, 1, 2, 3]);

    await sendToEachPartition(producer, 'split');
    await waitFor('both members to get their share', () => [...received.values()].flat().filter((m) => m.includes('split')).length === 4);
    for (const name of ['a', 'b']) {
      const partitions = received.get(name)!.filter((m) => m.includes('split')).map((m) => Number(m.split(':')[0])).sort();
      expect(partitions).toEqual(assigned.get(name));
    }

    await b.disconnect(); // leaves the group (LeaveGroup), so a rebalance follows at once
    await waitFor('a to own all 4 partitions again', () => assigned.get('a')?.length === 4);
    await sendToEachPartition(producer, 'alone');
    await waitFor('a to get every partition', () => received.get('a')!.filter((m) => m.includes('alone')).length === 4);
    expect(received.get('b')!.filter((m) => m.includes('alone'))).toEqual([]);

    await a.disconnect();
    await producer.disconnect();
  });

  it('survives a broker restart in the middle of producing and consuming, with no loss', async () => {
    // A broker of its own: restarting the shared one would disturb other test files using it.
    const topic = `t-restart-${run}`;
    const groupId = `g-restart-${run}`;
    const own = await startKafka({ port: await freePort(), partitions: { [topic]: 3 } });
    expect(own.started).toBe(true);
    try {
      await restartScenario(own, topic, groupId);
    } finally {
      await own.stop();
    }
  });
});

async function restartScenario(kafka: RunningKafka, topic: string, groupId: string): Promise<void> {
  const k = new Kafka({
    clientId: `t-restart-${run}`,
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 15 },
  });
  const producer = k.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 30 },
  });
  await producer.connect();

  const got = new Set<number>();
  let duplicates = 0;
  const consumer = k.consumer({ groupId, maxWaitTimeInMs: 500, sessionTimeout: 15_000, heartbeatInterval: 1_000, retry: { retries: 30, maxRetryTime: 3_000 } });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const n = Number(String(message.value));
      if (got.has(n)) duplicates++;
      got.add(n);
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    },
  });

  const total = 300;
  let acked = 0;
  const produceAll = (async () => {
    for (let i = 0; i < total; i += 10) {
      const batch = Array.from({ length: 10 }, (_, j) => ({ key: `k${i + j}`, value: String(i + j) }));
      await producer.send({ topic, acks: -1, messages: batch });
      acked += batch.length;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  await waitFor('some traffic before the restart', () => got.size >= 50);
  const restartStarted = Date.now();
  await kafka.restart();
  progress(`kafka: broker restarted in ${((Date.now() - restartStarted) / 1000).toFixed(1)} s with ${acked} of ${total} sent, ${got.size} consumed`);
  await produceAll;
  expect(acked).toBe(total);
  await waitFor('every message after the restart', () => got.size === total, 90_000);
  progress(`kafka: restart test consumed ${got.size} distinct messages, ${duplicates} redelivered`);

  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await waitFor('commits to reach the end of every partition', async () => {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return ends.every((e) => committed!.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
  });
  await admin.disconnect();
  await consumer.disconnect();
  await producer.disconnect();
}


/** The broker's [min, max] version per API key, from a raw ApiVersions v0 request (independent of kafkajs). */
function brokerApiVersions(address: string): Promise<Map<number, { min: number; max: number }>> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('cdnkit-version-probe');
    const request = Buffer.alloc(4 + 10 + clientId.length);
    request.writeInt32BE(10 + clientId.length, 0);
    request.writeInt16BE(18, 4); // ApiVersions
    request.writeInt16BE(0, 6); // v0
    request.writeInt32BE(1, 8); // correlation id
    request.writeInt16BE(clientId.length, 12);
    clientId.copy(request, 14);
    const socket = net.connect(Number(address.slice(i + 1)), address.slice(0, i), () => socket.write(request));
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 4 || buffer.length < 4 + buffer.readInt32BE(0)) return;
      socket.end();
      const error = buffer.readInt16BE(8);
      if (error !== 0) return reject(new Error(`ApiVersions error code ${error}`));
      const count = buffer.readInt32BE(10);
      const versions = new Map<number, { min: number; max: number }>();
      for (let n = 0, o = 14; n < count; n++, o += 6) {
        versions.set(buffer.readInt16BE(o), { min: buffer.readInt16BE(o + 2), max: buffer.readInt16BE(o + 4) });
      }
      resolve(versions);
    });
    socket.on('error', reject);
  });
}
