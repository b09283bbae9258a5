// Routing for hundreds of tenants: the generated rsyslog receiver (rsyslogd, omkafka) with a
// 500-tenant lookup table routes every line exactly: each tenant's lines, without the id, to its
// own topic; a tenant without the stream gets nothing; unknown ids go whole to quarantine.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KitConfig } from '../../src/config/schema.js';
import { tenantTopic } from '../../src/tenants/names.js';
import { freePort } from '../../src/local/process.js';
import { referenceKit } from './support/config.js';
import { readMessages, testKafka } from './support/kafka.js';
import { sendLines, startRsyslog, type Rsyslogd } from './support/rsyslog.js';
import { eventually } from './support/wait.js';

const TENANTS = 500;
const run = randomUUID().slice(0, 8);
const ids = Array.from({ length: TENANTS }, (_, i) => `scale-${run}-${i}`);
/** Even tenants get the metrics stream; odd ones only logs, so their metrics lines must vanish. */
const getsMetrics = (i: number) => i % 2 === 0;
/** 1 to 3 lines per tenant, so a line routed to a neighbour's topic would show in the counts. */
const linesOf = (i: number) => (i % 3) + 1;
const UNKNOWN = [`nobody-${run}`, `scale-${run}-${TENANTS}`, `SCALE-${run}-0`];
const quarantine = `test-quarantine-scale-${run}`;

let config: KitConfig;
let rsyslog: Rsyslogd;
const metricsTopics = () => ids.filter((_, i) => getsMetrics(i)).map((id) => tenantTopic(config.tenants!, id, 'metrics'));

beforeAll(async () => {
  config = referenceKit({
    receivers: { host: '127.0.0.1', logsPort: await freePort(), metricsPort: await freePort() },
    kafka: { brokers: inject('services').kafka.brokers },
    tenants: { quarantine: { name: quarantine, partitions: 1 }, list: ids.map((id, i) => ({ id, logTypes: getsMetrics(i) ? ['metrics'] : ['logs'] })) },
  });
  const admin = testKafka().admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [...metricsTopics(), quarantine].map((topic) => ({ topic, numPartitions: 1 })) });
  await admin.disconnect();
  rsyslog = await startRsyslog(config);
}, 300_000);

afterAll(async () => {
  rsyslog?.stop();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [...metricsTopics(), quarantine] }).catch(() => undefined);
  await admin.disconnect();
});

/** Messages in each topic: its end offset (one partition, written only by this test). */
async function countsOf(topics: string[]): Promise<Record<string, number>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const counts: Record<string, number> = {};
    for (const topic of topics) counts[topic] = Number((await admin.fetchTopicOffsets(topic))[0]!.high);
    return counts;
  } finally {
    await admin.disconnect();
  }
}

describe(`routing for ${TENANTS} tenants by the generated lookup table`, () => {
  it('every line lands in exactly its tenant’s topic; unknown ids in quarantine; unsubscribed tenants nowhere', async () => {
    const lines = ids.flatMap((id, i) => Array.from({ length: linesOf(i) }, (_, n) => `${id} cdnmetrics,host=edge-${i} requests=${n}i`));
    const unknown = UNKNOWN.map((id) => `${id} cdnmetrics,host=stray requests=1i`);
    const started = Date.now();
    await sendLines(config.receivers.metricsPort, [...lines, ...unknown]);

    const expected: Record<string, number> = Object.fromEntries(ids.flatMap((id, i) => (getsMetrics(i) ? [[tenantTopic(config.tenants!, id, 'metrics'), linesOf(i)]] : [])));
    expected[quarantine] = unknown.length;
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    let counts: Record<string, number> = {};
    await eventually(`${total} lines in ${Object.keys(expected).length} topics`, async () => {
      // Fresh topics: a partition's leader may still be settling (NOT_LEADER): ask again.
      counts = await countsOf(Object.keys(expected)).catch(() => ({}));
      return Object.values(counts).reduce((a, b) => a + b, 0) >= total;
    }, 60_000, () => rsyslog.output());
    process.stdout.write(`routing measured: ${lines.length + unknown.length} lines for ${TENANTS} tenants routed in ${((Date.now() - started) / 1000).toFixed(1)} s (incl. the 1 s linger)\n`);
    // A moment more, so a line too many would show.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await countsOf(Object.keys(expected))).toEqual(expected);
    // Nor did an unsubscribed tenant's line make a topic of its own (a broker may create topics on first use).
    const admin = testKafka().admin();
    await admin.connect();
    const existing = await admin.listTopics().finally(() => admin.disconnect());
    expect(existing.filter((t) => t.startsWith(`${config.tenants!.topicPrefix}scale-${run}-`)).sort()).toEqual(metricsTopics().sort());

    // The id is split off: the first and the last tenant's lines, as sent after it.
    for (const i of [0, TENANTS - 2]) {
      const read = (await readMessages(tenantTopic(config.tenants!, ids[i]!, 'metrics'), linesOf(i))).map((m) => m.value);
      expect(read.sort()).toEqual(Array.from({ length: linesOf(i) }, (_, n) => `cdnmetrics,host=edge-${i} requests=${n}i`));
    }
    expect((await readMessages(quarantine, unknown.length)).map((m) => m.value).sort()).toEqual([...unknown].sort());
  }, 180_000);
});
