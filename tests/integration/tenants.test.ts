// Tenants against a real Kafka 4 with SASL/SCRAM and the StandardAuthorizer: `cdnkit tenants add`
// makes topics, a SCRAM user and ACLs; the broker then lets the tenant's credentials read their own
// topics with their own groups, and refuses everything else.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { freePort, spawnChild } from '../../src/local/process.js';
import { ensureConfluentKafka, ensureKcat } from '../../src/local/tools.js';
import { startKafka, type KafkaSecurityListeners, type RunningKafka } from '../../src/local/services/kafka.js';
import { produceLines, testKafka } from './support/kafka.js';
import { readEnvFile, runCli, tenantsConfigFile } from './support/tenants.js';
import { eventually } from './support/wait.js';

const { Kafka, logLevel } = kafkajs;
const run = randomUUID().slice(0, 8);
const acme = `acme-${run}`;
const globex = `globex-${run}`;
let kafka: RunningKafka;
let security: KafkaSecurityListeners;
let config: { file: string; dir: string };
let acmePassword: string;
/** The unpacked bundle of acme. */
let bundle: string;
const cleanups: (() => unknown)[] = [];

const ACME_LINES = Array.from({ length: 50 }, (_, i) => `{"tenant":"acme","n":${i}}`);
const GLOBEX_LINES = Array.from({ length: 7 }, (_, i) => `{"tenant":"globex","n":${i}}`);

/**
 * The broker's error codes kafkajs saw: it reports a refused FindCoordinator only as "group
 * coordinator not found", and logs the broker's answer (GROUP_AUTHORIZATION_FAILED) at debug level.
 */
const brokerAnswers: string[] = [];

function tenantClient(username: string, password: string) {
  return new Kafka({
    clientId: `tenant-test-${run}`,
    brokers: security.saslBrokers,
    sasl: { mechanism: 'scram-sha-512', username, password },
    logLevel: logLevel.DEBUG,
    logCreator: () => ({ log }) => {
      const type = (log as { error?: { type?: unknown } }).error?.type;
      if (typeof type === 'string') brokerAnswers.push(type);
    },
    // Retries only what is retriable (a fresh broker's coordinator still loading); refusals bail at once.
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

/** Reads `count` lines of `topic` as the tenant, in consumer group `group`; rejects with the broker's refusal. */
async function readAs(username: string, password: string, topic: string, group: string, count: number): Promise<string[]> {
  const consumer = tenantClient(username, password).consumer({ groupId: group, maxWaitTimeInMs: 250 });
  const lines: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      // A crash kafkajs restarts from (the coordinator of a fresh broker still loading) is no refusal.
      consumer.on(consumer.events.CRASH, ({ payload }) => (payload.restart ? undefined : reject(payload.error)));
      void consumer
        .run({
          eachMessage: async ({ message }) => {
            lines.push(message.value!.toString());
            if (lines.length >= count) resolve();
          },
        })
        .catch(reject);
      setTimeout(() => reject(new Error(`read ${lines.length} of ${count} lines of ${topic} in 30 s`)), 30_000).unref();
    });
    return lines;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

/** The error the broker answers, as kafkajs names it (type of a protocol error, or the class name). */
function refusal(error: unknown): string {
  const each = (error as { errors?: unknown[] }).errors; // KafkaJSAggregateError: one per topic
  if (Array.isArray(each) && each.length > 0) return [...new Set(each.map(refusal))].join(', ');
  if ((error as Error).name === 'KafkaJSGroupCoordinatorNotFound') return brokerAnswers.at(-1) ?? 'KafkaJSGroupCoordinatorNotFound without an answer logged';
  for (let cause = error as { type?: string; name?: string; cause?: unknown; originalError?: unknown } | undefined; cause; cause = (cause.cause ?? cause.originalError) as typeof cause) {
    if (cause.type) return cause.type;
    if (cause.name === 'KafkaJSSASLAuthenticationError') return cause.name;
  }
  return `not a refusal: ${String(error)}`;
}

async function refusalOf(attempt: Promise<unknown>): Promise<string> {
  brokerAnswers.length = 0;
  return attempt.then(
    () => 'accepted',
    (error: unknown) => refusal(error),
  );
}

/** Runs a consumer of the bundle in its folder until it printed `count` lines (then stops it); the lines. */
async function linesPrintedBy(program: string, args: string[], count: number): Promise<string[]> {
  const child = spawnChild(program, args, { cwd: bundle, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  try {
    await eventually(`${args.join(' ')} to print ${count} lines`, () => out.split('\n').filter(Boolean).length >= count || child.exitCode !== null, 60_000, () => `${out}\n${err}`);
    // A moment more, so a line too many would show.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return out.split('\n').filter(Boolean);
  } finally {
    child.kill('SIGTERM');
  }
}

beforeAll(async () => {
  // The shared broker when it has the SASL listeners; else a private one, stopped in afterAll.
  kafka = inject('services').kafka.security ? await startKafka() : await startKafka({ port: await freePort() });
  security = kafka.security!;
  config = tenantsConfigFile({
    kafka: { brokers: kafka.brokers },
    tenants: {
      brokers: security.saslBrokers,
      partitions: 2,
      list: [
        { id: acme, retentionHours: 48 },
        { id: globex, logTypes: ['logs'] },
      ],
    },
  });
  cleanups.push(() => rmSync(config.dir, { recursive: true, force: true }));
}, 300_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await kafka?.stop(); // a private broker only; the shared one is reused and left running
});

describe('cdnkit tenants against Kafka with SCRAM and ACLs', () => {
  it('add creates the topics, the SCRAM-SHA-512 user, the ACLs and a bundle, saying so and how long it took', async () => {
    const result = await runCli(['tenants', 'add', acme, globex, '-c', config.file, '-o', join(config.dir, 'bundles')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const acmeReport = result.stdout.slice(result.stdout.indexOf(`tenant ${acme}:`), result.stdout.indexOf(`tenant ${globex}:`));
    expect(acmeReport).toMatch(new RegExp(`^tenant ${acme}: 9 change\\(s\\) \\(\\d+\\.\\d s\\)\\n`));
    for (const expected of [
      `created topic tenant.${acme}.logs (2 partitions, retention 48 h)`,
      `created topic tenant.${acme}.metrics (2 partitions, retention 48 h)`,
      `created SCRAM-SHA-512 user tenant.${acme}`,
      `granted tenant.${acme}: ALLOW READ on topic "tenant.${acme}.logs"`,
      `granted tenant.${acme}: ALLOW DESCRIBE on topic "tenant.${acme}.metrics"`,
      `granted tenant.${acme}: ALLOW READ on group prefix "tenant.${acme}."`,
      `wrote ${join(config.dir, 'bundles', `cdnkit-tenant-${acme}.tar.gz`)} (holds the password)`,
    ]) {
      expect(acmeReport).toContain(expected);
    }
    process.stdout.write(`onboarding measured: ${result.stdout.split('\n').filter((l) => l.startsWith('tenant ')).join('; ')}\n`);

    const archive = join(config.dir, 'bundles', `cdnkit-tenant-${acme}.tar.gz`);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const unpacked = mkdtempSync(join(tmpdir(), 'cdnkit-bundle-test-'));
    cleanups.push(() => rmSync(unpacked, { recursive: true, force: true }));
    expect(spawnSync('tar', ['-xzf', archive, '-C', unpacked]).status).toBe(0);
    bundle = join(unpacked, `cdnkit-tenant-${acme}`);
    for (const file of ['credentials.env', 'kcat.conf', 'client.properties', 'consumer.mjs', 'consumer.py', 'logstash.conf', 'filebeat.yml']) {
      expect(statSync(join(bundle, file)).mode & 0o777).toBe(0o600);
    }
    const credentials = readEnvFile(join(bundle, 'credentials.env'));
    expect(credentials.KAFKA_USERNAME).toBe(`tenant.${acme}`);
    expect(credentials.KAFKA_BROKERS).toBe(security.saslBrokers.join(','));
    acmePassword = credentials.KAFKA_PASSWORD!;
    expect(acmePassword.length).toBeGreaterThanOrEqual(32);

    await produceLines(`tenant.${acme}.logs`, ACME_LINES, { brokers: kafka.brokers });
    await produceLines(`tenant.${globex}.logs`, GLOBEX_LINES, { brokers: kafka.brokers });
  });

  it("the tenant's credentials read their own topic in a group of their prefix", async () => {
    // SCRAM credentials reach the broker through the metadata log: wait until they are known.
    await eventually(`tenant.${acme} to authenticate`, async () => {
      const admin = tenantClient(`tenant.${acme}`, acmePassword).admin();
      return admin.connect().then(
        () => admin.disconnect().then(() => true),
        () => false,
      );
    }, 30_000);
    const lines = await readAs(`tenant.${acme}`, acmePassword, `tenant.${acme}.logs`, `tenant.${acme}.dashboards`, ACME_LINES.length);
    expect(lines.sort()).toEqual([...ACME_LINES].sort());
  });

  it("another tenant's topic, producing, and a group outside the prefix are refused by the authorizer", async () => {
    const user = `tenant.${acme}`;
    expect(await refusalOf(readAs(user, acmePassword, `tenant.${globex}.logs`, `tenant.${acme}.sneaky`, 1))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await refusalOf(readAs(user, acmePassword, `tenant.${acme}.logs`, `tenant.${globex}.x`, 1))).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await refusalOf(readAs(user, acmePassword, `tenant.${acme}.logs`, `other-group-${run}`, 1))).toBe('GROUP_AUTHORIZATION_FAILED');
    const producer = tenantClient(user, acmePassword).producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    expect(await refusalOf(producer.send({ topic: `tenant.${acme}.logs`, messages: [{ value: 'forged' }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    const admin = tenantClient(user, acmePassword).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    expect(await refusalOf(admin.createTopics({ topics: [{ topic: `tenant.${acme}.extra` }] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it("the bundle's kcat, Node and Python consumers, run as written from the unpacked bundle, read the tenant's lines", async () => {
    const kcat = await ensureKcat();
    const { python, librdkafka } = await ensureConfluentKafka();
    // Debian 12's kcat links librdkafka 2.0.2, whose SCRAM Kafka 4 refuses (librdkafka#4895): run the
    // same kcat on the librdkafka 2.16 that the confluent-kafka wheel carries.
    const newer = mkdtempSync(join(tmpdir(), 'cdnkit-librdkafka-'));
    cleanups.push(() => rmSync(newer, { recursive: true, force: true }));
    symlinkSync(librdkafka, join(newer, 'librdkafka.so.1'));
    const topic = `tenant.${acme}.logs`;
    const kcatRun = spawnSync(kcat, ['-F', 'kcat.conf', '-C', '-t', topic, '-o', 'beginning', '-e', '-q'], {
      cwd: bundle,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, LD_LIBRARY_PATH: newer },
    });
    expect(kcatRun.status, kcatRun.stderr).toBe(0);
    expect(kcatRun.stdout.split('\n').filter(Boolean).sort()).toEqual([...ACME_LINES].sort());

    // As the bundle's README says: `npm install && node consumer.mjs`, kafkajs from the registry at the pinned version.
    const kafkajsVersion = (JSON.parse(readFileSync(join(process.cwd(), 'node_modules/kafkajs/package.json'), 'utf8')) as { version: string }).version;
    expect(JSON.parse(readFileSync(join(bundle, 'package.json'), 'utf8')).dependencies).toEqual({ kafkajs: kafkajsVersion });
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: bundle, encoding: 'utf8', timeout: 120_000 });
    expect(install.status, install.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(bundle, 'node_modules/kafkajs/package.json'), 'utf8')).version).toBe(kafkajsVersion);
    expect((await linesPrintedBy(process.execPath, ['consumer.mjs'], ACME_LINES.length)).sort()).toEqual([...ACME_LINES].sort());
    expect((await linesPrintedBy(python, ['consumer.py'], ACME_LINES.length)).sort()).toEqual([...ACME_LINES].sort());

    // Neither Logstash nor a Filebeat that speaks SCRAM to its kafka input can be had here (see the
    // README): the Filebeat file is at least YAML with its input as written.
    const filebeat = parseYaml(readFileSync(join(bundle, 'filebeat.yml'), 'utf8')) as { 'filebeat.inputs': Record<string, unknown>[] };
    expect(filebeat['filebeat.inputs'][0]).toMatchObject({ type: 'kafka', topics: [topic, `tenant.${acme}.metrics`], username: `tenant.${acme}`, password: acmePassword, 'sasl.mechanism': 'SCRAM-SHA-512' });
  }, 240_000);

  it('wrong credentials are refused at authentication', async () => {
    expect(await refusalOf(tenantClient(`tenant.${acme}`, `${acmePassword}x`).admin().connect())).toBe('KafkaJSSASLAuthenticationError');
    expect(await refusalOf(tenantClient(`tenant.nobody-${run}`, acmePassword).admin().connect())).toBe('KafkaJSSASLAuthenticationError');
  });

  it('add a second time changes nothing, and the password stays valid', async () => {
    const result = await runCli(['tenants', 'add', acme, globex, '-c', config.file, '-o', join(config.dir, 'bundles-again')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^tenant ${acme}: up to date, nothing changed \\(\\d+\\.\\d s\\)\\ntenant ${globex}: up to date, nothing changed \\(\\d+\\.\\d s\\)\\n$`));
    expect(existsSync(join(config.dir, 'bundles-again'))).toBe(false);
    const lines = await readAs(`tenant.${acme}`, acmePassword, `tenant.${acme}.logs`, `tenant.${acme}.second`, ACME_LINES.length);
    expect(lines).toHaveLength(ACME_LINES.length);
    const list = await runCli(['tenants', 'list', '-c', config.file]);
    expect(list.stdout).toContain(`${acme}\tuser tenant.${acme}\t5 ACLs\ttenant.${acme}.logs, tenant.${acme}.metrics\tok\n`);
    expect(list.stdout).toContain(`${globex}\tuser tenant.${globex}\t3 ACLs\ttenant.${globex}.logs\tok\n`);
  });

  it('add changes a retention without resetting a setting an operator gave the topic by hand', async () => {
    const topic = `tenant.${acme}.logs`;
    const admin = testKafka(kafka.brokers).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const settings = async () => {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'max.message.bytes'] }] });
      return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    };
    // The operator's own setting, beside the retention `add` gave the topic.
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: String(48 * 3_600_000) }, { name: 'max.message.bytes', value: '2097152' }] }] });
    // The platform then shortens acme's retention in the kit config.
    const kit = parseYaml(readFileSync(config.file, 'utf8')) as { tenants: { list: { id: string; retentionHours?: number }[] } };
    kit.tenants.list.find((t) => t.id === acme)!.retentionHours = 24;
    writeFileSync(config.file, stringifyYaml(kit));

    const result = await runCli(['tenants', 'add', acme, '-c', config.file, '-o', join(config.dir, 'bundles-retention')]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`set retention of ${topic} to 24 h (was ${48 * 3_600_000})`);
    expect(await settings()).toEqual({ 'retention.ms': String(24 * 3_600_000), 'max.message.bytes': '2097152' });
  });

  it('bundle issues a new password in a new bundle: the old one is refused, the new one reads', async () => {
    const result = await runCli(['tenants', 'bundle', acme, '-c', config.file, '-o', join(config.dir, 'rotated')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('set a new SCRAM-SHA-512 password');
    const unpacked = mkdtempSync(join(tmpdir(), 'cdnkit-bundle-rotated-'));
    cleanups.push(() => rmSync(unpacked, { recursive: true, force: true }));
    expect(spawnSync('tar', ['-xzf', join(config.dir, 'rotated', `cdnkit-tenant-${acme}.tar.gz`), '-C', unpacked]).status).toBe(0);
    const rotated = readEnvFile(join(unpacked, `cdnkit-tenant-${acme}`, 'credentials.env')).KAFKA_PASSWORD!;
    expect(rotated).not.toBe(acmePassword);
    await eventually('the old password to be refused', async () => (await refusalOf(tenantClient(`tenant.${acme}`, acmePassword).admin().connect())) === 'KafkaJSSASLAuthenticationError', 30_000);
    acmePassword = rotated;
    const lines = await readAs(`tenant.${acme}`, acmePassword, `tenant.${acme}.logs`, `tenant.${acme}.rotated`, ACME_LINES.length);
    expect(lines).toHaveLength(ACME_LINES.length);
  });

  it('remove revokes: the same credentials are refused; topics are kept unless asked', async () => {
    const removed = await runCli(['tenants', 'remove', acme, '-c', config.file]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`deleted SCRAM-SHA-512 credential of tenant.${acme}`);
    expect(removed.stdout).toContain(`revoked from tenant.${acme}: ALLOW READ on group prefix "tenant.${acme}."`);
    expect(removed.stdout).toContain('kept its topics');
    await eventually(`tenant.${acme} to be refused`, async () => (await refusalOf(tenantClient(`tenant.${acme}`, acmePassword).admin().connect())) === 'KafkaJSSASLAuthenticationError', 30_000);

    const deleted = await runCli(['tenants', 'remove', globex, '--delete-topics', '-c', config.file]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`deleted topic tenant.${globex}.logs`);
    const admin = testKafka(kafka.brokers).admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      expect(topics).toContain(`tenant.${acme}.logs`);
      expect(topics).not.toContain(`tenant.${globex}.logs`);
      await admin.deleteTopics({ topics: [`tenant.${acme}.logs`, `tenant.${acme}.metrics`] });
    } finally {
      await admin.disconnect();
    }
  });
});
