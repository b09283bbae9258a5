// A secured Kafka, for real: the harness's broker with a SASL_PLAINTEXT listener, a SASL_SSL
// listener whose certificates come from a throwaway CA (client certificate required), SCRAM and
// PLAIN users, and the StandardAuthorizer.
// The metrics bridge and the generated rsyslog receiver connect to it the way the kit config says,
// with the password read from the environment; a wrong password and an unknown CA are refused.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rsyslogConfig } from '../../generators/rsyslog.js';
import type { KitConfigInput } from '../../src/config/schema.js';
import { freePort } from '../../src/local/process.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import kafkajs from 'kafkajs';
import { addScramUser, startKafka, type KafkaSecurityListeners, type RunningKafka } from '../../src/local/services/kafka.js';
import { startBridgeProcess, type BridgeProcess } from '../../src/local/bridge-process.js';
import { referenceKit, writeKitConfig } from './support/config.js';
import { countPoints } from './support/influx.js';
import { freshTopics, produceLines, readTopic, testKafka } from './support/kafka.js';
import { sendLines, startRsyslogd } from './support/rsyslog.js';
import { eventually } from './support/wait.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;
const run = randomUUID().slice(0, 8);
/** The variable the configs below name for the Kafka password; its value exists only in the test's memory. */
const PASSWORD_ENV = 'TEST_KAFKA_PASSWORD';
let kafka: RunningKafka;
let security: KafkaSecurityListeners;
let influx: RunningInflux;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  // The shared test broker when it has the SASL listeners (every broker this harness starts does);
  // else, say a broker started before they existed, a private one.
  kafka = inject('services').kafka.security ? await startKafka() : await startKafka({ port: await freePort() });
  security = kafka.security!;
  influx = await startInfluxDB();
}, 300_000);
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await kafka?.stop(); // only a private broker: the shared one is reused, and left running
});

type KafkaSection = NonNullable<KitConfigInput['kafka']>;

/** How each listener is reached: the kit config's kafka section (without topics), built once the broker runs. */
const connections = {
  'SASL_PLAINTEXT, SCRAM-SHA-512': (): KafkaSection => ({
    brokers: security.saslBrokers,
    sasl: { mechanism: 'SCRAM-SHA-512', username: security.admin.username, passwordEnv: PASSWORD_ENV },
  }),
  'SASL_SSL with a CA file and a client certificate, SCRAM-SHA-256': (): KafkaSection => ({
    brokers: security.sslBrokers,
    tls: { caFile: security.caFile, certFile: security.clientCertFile, keyFile: security.clientKeyFile },
    sasl: { mechanism: 'SCRAM-SHA-256', username: security.admin.username, passwordEnv: PASSWORD_ENV },
  }),
  'SASL_PLAINTEXT, PLAIN': (): KafkaSection => ({
    brokers: security.saslBrokers,
    sasl: { mechanism: 'PLAIN', username: security.admin.username, passwordEnv: PASSWORD_ENV },
  }),
  'SASL_SSL with a CA file and a client certificate, PLAIN': (): KafkaSection => ({
    brokers: security.sslBrokers,
    tls: { caFile: security.caFile, certFile: security.clientCertFile, keyFile: security.clientKeyFile },
    sasl: { mechanism: 'PLAIN', username: security.admin.username, passwordEnv: PASSWORD_ENV },
  }),
};

/** Distinct points of one series: a timestamp each. */
function points(count: number): string[] {
  const base = 1_700_000_000_000_000_000n;
  return Array.from({ length: count }, (_, i) => `cdnmetrics,product=api,api_name=orders elapsed_time=${i}i,time_to_first_byte=0.004 ${base + BigInt(i * 1000)}`);
}

/** A metrics bridge process on fresh topics and a fresh bucket, connected to Kafka as `connection` says. */
async function metricsBridge(name: string, connection: KafkaSection, password: string): Promise<{ bridge: BridgeProcess; topic: string; bucket: string }> {
  // Created and filled over the PLAINTEXT listener, whose User:ANONYMOUS is a super user.
  const topics = await freshTopics(['metrics', 'logs', 'dead'] as const, 2, kafka.brokers);
  const bucket = `kafka-security-${name}-${run}`;
  await createBucket(influx, bucket);
  const configFile = writeKitConfig({
    kafka: { ...connection, topics: { metrics: { name: topics.metrics }, logs: { name: topics.logs }, deadLetter: { name: topics.dead } } },
    sinks: { influxdb: { url: influx.url, org: influx.org, bucket } },
    bridges: { metrics: { groupId: `kafka-security-${name}-${run}`, maxRetryDelayMs: 2000 } },
  });
  const bridge = await startBridgeProcess('metrics', configFile, { CDNKIT_INFLUX_TOKEN: influx.token, [PASSWORD_ENV]: password });
  cleanups.push(() => bridge.kill9());
  return { bridge, topic: topics.metrics, bucket };
}

/** Until the bridge exits by itself (a refusal it cannot get past); its exit code. */
async function exitOf(bridge: BridgeProcess): Promise<number | null> {
  await eventually('the bridge to exit', () => bridge.exited(), 60_000, bridge.output);
  return bridge.stop();
}

describe('a secured Kafka', () => {
  for (const [how, connection] of Object.entries(connections)) {
    it(`the metrics bridge consumes over ${how} (password from the environment) and writes every point once`, async () => {
      const lines = points(2000);
      const { bridge, topic, bucket } = await metricsBridge(how.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase(), connection(), security.admin.password);
      await produceLines(topic, lines, { brokers: kafka.brokers });
      await bridge.waitReady();
      await eventually('every point in InfluxDB', async () => (await countPoints(influx, bucket)) >= lines.length, 60_000, bridge.output);
      expect(await countPoints(influx, bucket)).toBe(lines.length);
    });
  }

  it('enforces ACLs on every user but the super users: a new SCRAM user may produce only once granted', async () => {
    const username = `restricted-${run}`;
    const password = randomUUID();
    await addScramUser(kafka.brokers, username, password);
    const { granted } = await freshTopics(['granted'] as const, 1, kafka.brokers);
    const client = new Kafka({ clientId: 'restricted', brokers: security.saslBrokers, sasl: { mechanism: 'scram-sha-512', username, password }, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = client.producer();
    cleanups.push(() => producer.disconnect());
    // The credentials reach the broker through the metadata log: wait for them to be known.
    await eventually(`${username} to authenticate`, () => producer.connect().then(() => true, () => false), 30_000);
    await expect(producer.send({ topic: granted, messages: [{ value: 'refused' }] })).rejects.toThrow(/authoriz/i);

    const admin = testKafka(kafka.brokers).admin();
    await admin.connect();
    try {
      const acl = { resourceName: granted, resourcePatternType: ResourcePatternTypes.LITERAL, principal: `User:${username}`, host: '*', permissionType: AclPermissionTypes.ALLOW };
      await admin.createAcls({
        acl: [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE].map((operation) => ({ ...acl, resourceType: AclResourceTypes.TOPIC, operation })),
      });
    } finally {
      await admin.disconnect();
    }
    await eventually('the ACL to let the user produce', () => producer.send({ topic: granted, messages: [{ value: 'granted' }] }).then(() => true, () => false), 30_000);
    expect(await readTopic(granted, 1, 30_000, kafka.brokers)).toEqual(['granted']);
  });

  it('a wrong password is refused at authentication: the bridge says so and exits non-zero', async () => {
    const { bridge } = await metricsBridge('wrong-password', connections['SASL_PLAINTEXT, SCRAM-SHA-512'](), `${security.admin.password}-wrong`);
    expect(await exitOf(bridge)).not.toBe(0);
    expect(bridge.output()).toContain(`Kafka at ${security.saslBrokers} refused user admin (SCRAM-SHA-512): SASL SCRAM SHA512 authentication failed`);
  });

  it('a broker certificate from a CA the bridge was not given is refused: TLS verifies the broker', async () => {
    const { caFile: _withoutCa, ...tls } = connections['SASL_SSL with a CA file and a client certificate, SCRAM-SHA-256']().tls!;
    const { bridge } = await metricsBridge('unknown-ca', { ...connections['SASL_SSL with a CA file and a client certificate, SCRAM-SHA-256'](), tls }, security.admin.password);
    expect(await exitOf(bridge)).not.toBe(0);
    expect(bridge.output()).toContain(
      `TLS with Kafka at ${security.sslBrokers} failed: Connection error: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); set kafka.tls.caFile`,
    );
  });
});

// PLAIN only: the omkafka here runs on Debian 12's librdkafka 2.0.2, whose SCRAM proofs Kafka 4
// refuses (fixed in librdkafka 2.6.1); the generated file says so when SCRAM is configured.
describe('the generated rsyslog receiver on a secured Kafka', () => {
  for (const how of ['SASL_PLAINTEXT, PLAIN', 'SASL_SSL with a CA file and a client certificate, PLAIN'] as const) {
    it(`forwards every line over ${how}, the password read from rsyslogd's environment`, async () => {
      const topics = await freshTopics(['logs', 'metrics'] as const, 1, kafka.brokers);
      const [logsPort, metricsPort] = [await freePort(), await freePort()];
      const config = referenceKit({
        receivers: { host: '127.0.0.1', logsPort, metricsPort },
        kafka: { ...connections[how](), topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics } }, producer: { lingerMs: 10 } },
      });
      const text = rsyslogConfig(config);
      expect(text).not.toContain(security.admin.password);
      const daemon = await startRsyslogd(text, [logsPort, metricsPort], { [PASSWORD_ENV]: security.admin.password });
      cleanups.push(daemon.stop);
      const lines = points(50);
      await sendLines(metricsPort, lines);
      await sendLines(logsPort, ['{"resp_status":503}']);
      expect((await readTopic(topics.metrics, lines.length, 30_000, kafka.brokers)).sort()).toEqual([...lines].sort());
      expect(await readTopic(topics.logs, 1, 30_000, kafka.brokers)).toEqual(['{"resp_status":503}']);
      await daemon.stop();
    });
  }
});
