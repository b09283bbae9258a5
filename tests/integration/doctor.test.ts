// `cdnkit doctor` against the real Kafka, InfluxDB and Elasticsearch, the generated rsyslog
// receivers and a real metrics bridge: every check passes on a set-up made with the kit's own
// set-up code, and each broken hop is the one FAIL, named, with the exit status 1.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { indexTemplate } from '../../generators/elasticsearch.js';
import type { KitConfigInput } from '../../src/config/schema.js';
import { freePort } from '../../src/local/process.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { startKafka, type RunningKafka } from '../../src/local/services/kafka.js';
import { setupElasticsearchTemplate, setupKafkaTopics } from '../../src/stack/setup.js';
import { scratchDir } from '../support/scratch.js';
import { startBridgeProcess, type BridgeProcess } from '../../src/local/bridge-process.js';
import { runBuiltCli } from './support/cli.js';
import { referenceKit, writeKitConfig } from './support/config.js';
import { startRsyslog, type Rsyslogd } from './support/rsyslog.js';

const run = randomUUID().slice(0, 8);
let influx: RunningInflux;
let base: Partial<KitConfigInput>;
let receivers: Rsyslogd | undefined;
let bridge: BridgeProcess | undefined;
const indexPrefix = `doctor-${run}`;
const es = () => new Client({ node: inject('services').elasticsearch.url });

/** The doctor's lines as [status, hop] pairs, and the whole output. */
async function doctor(overrides: Partial<KitConfigInput>, env: Record<string, string> = {}, flags: string[] = []) {
  const file = writeKitConfig({ ...base, ...overrides });
  const result = await runBuiltCli(['doctor', '-c', file, ...flags], { CDNKIT_INFLUX_TOKEN: influx.token, ...env });
  const checks = result.stdout.split('\n').filter((l) => /^(ok|FAIL|warn|skip) /.test(l));
  return { ...result, checks, failed: checks.filter((l) => l.startsWith('FAIL')) };
}

beforeAll(async () => {
  influx = await startInfluxDB();
  const [logsPort, metricsPort, metricsListen, logsListen] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const bucket = `doctor-${run}`;
  await createBucket(influx, bucket);
  base = {
    receivers: { host: '127.0.0.1', logsPort, metricsPort },
    kafka: {
      brokers: inject('services').kafka.brokers,
      topics: { logs: { name: `doctor-${run}-logs`, partitions: 2 }, metrics: { name: `doctor-${run}-metrics`, partitions: 2 }, deadLetter: { name: `doctor-${run}-dead`, partitions: 1 } },
    },
    sinks: { influxdb: { url: influx.url, org: influx.org, bucket }, elasticsearch: { url: inject('services').elasticsearch.url, indexPrefix } },
    // Nothing listens here: the logs bridge is "not running on this host".
    bridges: { metrics: { groupId: `doctor-${run}`, listen: `127.0.0.1:${metricsListen}` }, logs: { listen: `127.0.0.1:${logsListen}` } },
  };
  const config = referenceKit(base);
  await setupKafkaTopics(config, () => {});
  const template = join(scratchDir('cdnkit-doctor-'), 'index-template.json');
  writeFileSync(template, JSON.stringify(indexTemplate(config)));
  await setupElasticsearchTemplate(config, template, () => {});
  receivers = await startRsyslog(config);
  bridge = await startBridgeProcess('metrics', writeKitConfig(base), { CDNKIT_INFLUX_TOKEN: influx.token });
  await bridge.waitReady();
}, 120_000);

let secured: RunningKafka | undefined;

afterAll(async () => {
  await secured?.stop(); // only a private broker: the shared one is reused, and left running
  await bridge?.stop();
  receivers?.stop();
  await es().indices.deleteIndexTemplate({ name: indexPrefix }).catch(() => undefined);
});

describe('cdnkit doctor', () => {
  it('passes every hop of a healthy set-up, says which it could not check, and prints no secret', async () => {
    const result = await doctor({}, {}, ['--bridge-metrics-url', bridge!.operations]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.checks.map((l) => l.split(/\s+/, 3).slice(0, 2).join(' ').replace(/ (metrics|logs)$/, ''))).toEqual([
      'ok receivers',
      'ok receivers',
      'ok kafka',
      'ok kafka',
      'ok kafka',
      'ok kafka',
      'ok bridge',
      'ok bridge',
      'ok influxdb',
      'ok influxdb',
      'ok influxdb',
      'ok influxdb',
      'warn bridge',
      'ok elasticsearch',
      'ok elasticsearch',
      'skip grafana',
    ]);
    expect(result.stdout).toContain(`ok    kafka          topic doctor-${run}-logs (kafka.topics.logs) has 2 partition(s)`);
    expect(result.stdout).toContain(`ok    kafka          topic doctor-${run}-dead (kafka.topics.deadLetter) has 1 partition(s), 0 dead letter(s) retained`);
    expect(result.stdout).toContain(`ok    bridge metrics ready at ${bridge!.operations} (kafka ok, influxdb ok)`);
    expect(result.stdout).toMatch(/ok {4}bridge metrics consumer lag 0 line\(s\) over 2 assigned partition\(s\); 0 line\(s\) dead-lettered since it started/);
    expect(result.stdout).toContain(`ok    influxdb       DBRP mapping doctor-${run}/autogen -> bucket doctor-${run} (virtual: by the bucket's name), for InfluxQL`);
    expect(result.stdout).toContain(`ok    elasticsearch  index template ${indexPrefix} is installed and matches the config (${indexPrefix}-*)`);
    expect(result.stdout).toMatch(/warn {2}bridge logs {4}not checked: not reachable at http:\/\/127\.0\.0\.1:\d+ \(bridges\.logs\.listen\)/);
    expect(result.stdout).toMatch(/^16 checks: 14 ok, 0 failed, 1 warnings, 1 skipped, in \d+\.\d s$/m);
    expect(result.stdout).not.toContain(influx.token);
  });

  it('fails on a receiver port nothing listens on, naming the port and the key', async () => {
    const closed = await freePort();
    const result = await doctor({ receivers: { host: '127.0.0.1', logsPort: closed, metricsPort: base.receivers!.metricsPort! } });
    expect(result.code).toBe(1);
    expect(result.failed).toEqual([
      `FAIL  receivers      logs syslog receiver: cannot connect to 127.0.0.1:${closed}: the service is not listening yet, or on another port — fix: start the logs receiver (out/receivers/), or correct receivers.logsPort / the host (receivers.host; --receivers-host checks another host)`,
    ]);
  });

  it('fails on a missing topic', async () => {
    const topics = { ...base.kafka!.topics!, metrics: { name: `doctor-${run}-absent` } };
    const result = await doctor({ kafka: { ...base.kafka!, topics } });
    expect(result.code).toBe(1);
    expect(result.failed).toEqual([
      `FAIL  kafka          topic doctor-${run}-absent (kafka.topics.metrics) does not exist — fix: cdnkit stack setup kafka creates it; or correct kafka.topics.metrics.name`,
    ]);
  });

  it('fails on a wrong InfluxDB token, naming the variable and never printing it', async () => {
    const result = await doctor({ sinks: { ...base.sinks!, influxdb: { ...base.sinks!.influxdb!, tokenEnv: 'DOCTOR_TEST_TOKEN' } } }, { DOCTOR_TEST_TOKEN: 'not-the-token-1234' });
    expect(result.code).toBe(1);
    expect(result.failed).toEqual([
      `FAIL  influxdb       the token in DOCTOR_TEST_TOKEN is refused (HTTP 401) — fix: set DOCTOR_TEST_TOKEN to a valid token of org ${influx.org} (influx auth list)`,
    ]);
    expect(result.stdout).not.toContain('not-the-token-1234');
  });

  // InfluxDB 2.7 maps every bucket by its name (a virtual mapping), so a bucket cannot lack one; what
  // breaks InfluxQL panels is an explicit mapping of that database to another bucket.
  it('fails when the DBRP mapping InfluxQL dashboards use points at another bucket', async () => {
    const bucket = `doctor-${run}-remapped`;
    const auth = { authorization: `Token ${influx.token}`, 'content-type': 'application/json' };
    const post = async (path: string, body: object) => {
      const response = await fetch(`${influx.url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      expect(response.status).toBe(201);
      return (await response.json()) as { id: string };
    };
    const orgs = (await (await fetch(`${influx.url}/api/v2/orgs?org=${influx.org}`, { headers: auth })).json()) as { orgs: { id: string }[] };
    const orgID = orgs.orgs[0]!.id;
    await post('/api/v2/buckets', { orgID, name: bucket, retentionRules: [] });
    const healthyBucket = base.sinks!.influxdb!.bucket!;
    expect((await doctor({ sinks: { ...base.sinks!, influxdb: { ...base.sinks!.influxdb!, bucket } } })).stdout).toContain(
      `ok    influxdb       DBRP mapping ${bucket}/autogen -> bucket ${bucket} (virtual: by the bucket's name), for InfluxQL`,
    );
    const buckets = (await (await fetch(`${influx.url}/api/v2/buckets?orgID=${orgID}&name=${healthyBucket}`, { headers: auth })).json()) as { buckets: { id: string }[] };
    const other = buckets.buckets[0]!.id;
    const mapping = await post('/api/v2/dbrps', { orgID, bucketID: other, database: bucket, retention_policy: 'autogen', default: true });
    const result = await doctor({ sinks: { ...base.sinks!, influxdb: { ...base.sinks!.influxdb!, bucket } } });
    expect(result.code).toBe(1);
    expect(result.failed).toEqual([
      `FAIL  influxdb       the DBRP mapping of database ${bucket} points at another bucket (id ${other}): Grafana's InfluxQL panels read that one — fix: influx v1 dbrp delete --id ${mapping.id} -o ${influx.org} (the bucket's own mapping then applies), or rename sinks.influxdb.bucket`,
    ]);
  });

  it('fails on a missing index template', async () => {
    const prefix = `doctor-${run}-untemplated`;
    const result = await doctor({ sinks: { ...base.sinks!, elasticsearch: { ...base.sinks!.elasticsearch!, indexPrefix: prefix } } });
    expect(result.code).toBe(1);
    expect(result.failed).toEqual([
      `FAIL  elasticsearch  index template ${prefix} is not installed: documents would get guessed types — fix: cdnkit stack setup elasticsearch --template out/elasticsearch/index-template.json (or PUT _index_template/${prefix} with that file)`,
    ]);
  });

  it('connects with the config\'s TLS and SASL, and says when the brokers refuse the user or the certificate', async () => {
    // The shared broker's SASL_SSL listener when it has one; else a private broker.
    secured = inject('services').kafka.security ? undefined : await startKafka({ port: await freePort() });
    const security = (secured ?? (await startKafka())).security!;
    // Created over the PLAINTEXT listener, whose anonymous user is a super user.
    const kafka = { ...base.kafka!, brokers: security.sslBrokers };
    const tls = { caFile: security.caFile, certFile: security.clientCertFile, keyFile: security.clientKeyFile };
    const sasl = { mechanism: 'SCRAM-SHA-256' as const, username: security.admin.username, passwordEnv: 'DOCTOR_KAFKA_PASSWORD' };

    const good = await doctor({ kafka: { ...kafka, tls, sasl } }, { DOCTOR_KAFKA_PASSWORD: security.admin.password });
    expect(good.checks.filter((l) => l.includes(' kafka '))).toEqual([
      expect.stringMatching(new RegExp(`^ok {4}kafka {10}brokers ${security.sslBrokers[0]} answer \\(SASL_SSL, 1 broker\\(s\\), cluster \\S+\\)$`)),
      `ok    kafka          topic doctor-${run}-logs (kafka.topics.logs) has 2 partition(s)`,
      `ok    kafka          topic doctor-${run}-metrics (kafka.topics.metrics) has 2 partition(s)`,
      `ok    kafka          topic doctor-${run}-dead (kafka.topics.deadLetter) has 1 partition(s), 0 dead letter(s) retained`,
    ]);
    expect(good.code).toBe(0);
    expect(good.stdout).not.toContain(security.admin.password);

    const refused = await doctor({ kafka: { ...kafka, tls, sasl } }, { DOCTOR_KAFKA_PASSWORD: 'wrong-password-5678' });
    expect(refused.code).toBe(1);
    expect(refused.failed).toEqual([
      expect.stringMatching(
        new RegExp(`^FAIL  kafka {10}Kafka at ${security.sslBrokers[0]} refused user ${security.admin.username} \\(SCRAM-SHA-256\\): .+ — fix: check kafka.sasl.username and the password in DOCTOR_KAFKA_PASSWORD$`),
      ),
    ]);
    expect(refused.stdout).not.toContain('wrong-password-5678');

    const untrusted = await doctor({ kafka: { ...kafka, tls: { certFile: tls.certFile, keyFile: tls.keyFile }, sasl } }, { DOCTOR_KAFKA_PASSWORD: security.admin.password });
    expect(untrusted.code).toBe(1);
    expect(untrusted.failed).toEqual([
      expect.stringMatching(new RegExp(`^FAIL  kafka {10}TLS with Kafka at ${security.sslBrokers[0]} failed: .+ — fix: set kafka.tls.caFile to the CA that signed the brokers' certificates$`)),
    ]);
  });

  it('fails on unreachable brokers, and on a bridge URL given on purpose that does not answer', async () => {
    const closed = await freePort();
    const result = await doctor({}, { CDNKIT_KAFKA_BROKERS: `127.0.0.1:${closed}` }, ['--bridge-logs-url', `http://127.0.0.1:${closed}`]);
    expect(result.code).toBe(1);
    expect(result.failed).toEqual([
      `FAIL  kafka          cannot connect to 127.0.0.1:${closed}: the service is not listening yet, or on another port — fix: correct kafka.brokers (or CDNKIT_KAFKA_BROKERS), or start Kafka`,
      `FAIL  bridge logs    cannot connect to http://127.0.0.1:${closed}: the service is not listening yet, or on another port — fix: start the bridge (cdnkit bridge logs), or correct --bridge-logs-url`,
    ]);
  });
});
