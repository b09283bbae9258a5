// Routing at the edge, for real: varnishd + varnishncsa with the generated VCL and formats prefix
// every line with the tenant id the VCL set for the host; the generated rsyslog receiver (rsyslogd,
// omkafka) splits it off and produces the rest to the tenant's topic; an unknown or missing id goes
// whole to the quarantine topic. Exact counts per topic.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KitConfig } from '../../src/config/schema.js';
import { tenantTopic } from '../../src/tenants/names.js';
import { freePort } from '../../src/local/process.js';
import { referenceKit } from './support/config.js';
import { readMessages, testKafka } from './support/kafka.js';
import { sendLines, startRsyslog, type Rsyslogd } from './support/rsyslog.js';
import { startVarnishEdge, type VarnishEdge } from './support/varnish-edge.js';
import { eventually } from './support/wait.js';

const run = randomUUID().slice(0, 8);
const acme = `acme-${run}`;
const globex = `globex-${run}`;
/** A tenant the edge knows but the config does not (yet): its lines must not be lost. */
const initech = `initech-${run}`;
const quarantine = `test-quarantine-${run}`;

let config: KitConfig;
let edge: VarnishEdge;
let rsyslog: Rsyslogd;
const topics = () => [...[acme, globex].flatMap((id) => (['logs', 'metrics'] as const).map((type) => tenantTopic(config.tenants!, id, type))), quarantine];

beforeAll(async () => {
  config = referenceKit({
    cdn: { flavours: ['varnish'] },
    receivers: { host: '127.0.0.1', logsPort: await freePort(), metricsPort: await freePort() },
    kafka: { brokers: inject('services').kafka.brokers },
    tenants: { quarantine: { name: quarantine, partitions: 1 }, list: [{ id: acme }, { id: globex }] },
  });
  // What `cdnkit tenants add` would create (its own test covers it); here on the shared broker.
  const admin = testKafka().admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: topics().map((topic) => ({ topic, numPartitions: 1 })) });
  await admin.disconnect();

  rsyslog = await startRsyslog(config);
  // The operator's VCL names each host's tenant, overwriting whatever a client sent.
  edge = await startVarnishEdge(config, [], (example) =>
    example.replace(
      'sub vcl_recv {\n',
      `sub vcl_recv {
    if (req.http.host == "acme.example") {
        set req.http.X-Cdnkit-Tenant = "${acme}";
    } elsif (req.http.host == "globex.example") {
        set req.http.X-Cdnkit-Tenant = "${globex}";
    } elsif (req.http.host == "initech.example") {
        set req.http.X-Cdnkit-Tenant = "${initech}";
    } else {
        unset req.http.X-Cdnkit-Tenant;
    }
`,
    ),
  );
}, 300_000);

afterAll(async () => {
  await edge?.stop();
  await rsyslog?.stop();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: topics() }).catch(() => undefined);
  await admin.disconnect();
});

/** GET on the edge for `host`, as a client would send it (a client's own tenant header changes nothing). */
const request = (host: string, status: number, i: number) =>
  Buffer.from(`GET /status/${status}/item-${i} HTTP/1.1\r\nHost: ${host}\r\nX-Cdnkit-Tenant: ${acme}\r\nConnection: close\r\n\r\n`);

describe('routing at the edge by tenant', () => {
  it('each tenant gets exactly its lines, without the id; unknown and missing ids go whole to quarantine', async () => {
    const plan: [host: string, status: number, count: number][] = [
      ['acme.example', 200, 5],
      ['acme.example', 404, 3],
      ['globex.example', 200, 4],
      ['globex.example', 503, 2],
      ['initech.example', 404, 3],
      ['stranger.example', 200, 1],
    ];
    let sent = 0;
    for (const [host, status, count] of plan) {
      for (let i = 0; i < count; i++) expect(await edge.send(request(host, status, sent++))).toBe(status);
    }
    // 18 requests: one point each, and an error line for each of the 8 with status >= 400.
    await eventually('varnishncsa to ship every line', () => edge.metrics.lines.length >= 18 && edge.logs.lines.length >= 8, 20_000, edge.output);
    expect(edge.metrics.lines).toHaveLength(18);
    expect(edge.logs.lines).toHaveLength(8);
    // The varnishncsa script's lines, byte for byte, into the receiver's ports (the test's line receivers stand between them).
    await sendLines(config.receivers.metricsPort, edge.metrics.lines.map((l) => l.toString('utf8')));
    await sendLines(config.receivers.logsPort, edge.logs.lines.map((l) => l.toString('utf8')));

    const expected = {
      [tenantTopic(config.tenants!, acme, 'metrics')]: 8,
      [tenantTopic(config.tenants!, acme, 'logs')]: 3,
      [tenantTopic(config.tenants!, globex, 'metrics')]: 6,
      [tenantTopic(config.tenants!, globex, 'logs')]: 2,
      [quarantine]: 3 + 3 + 1,
    };
    const landed: Record<string, string[]> = {};
    for (const [topic, count] of Object.entries(expected)) landed[topic] = (await readMessages(topic, count, 30_000, 1500)).map((m) => m.value);
    expect(Object.fromEntries(Object.entries(landed).map(([topic, lines]) => [topic, lines.length]))).toEqual(expected);

    for (const id of [acme, globex]) {
      for (const line of landed[tenantTopic(config.tenants!, id, 'metrics')]!) expect(line).toMatch(/^cdnmetrics,/);
      for (const line of landed[tenantTopic(config.tenants!, id, 'logs')]!) expect(JSON.parse(line)).toHaveProperty('resp_status');
    }
    const quarantined = landed[quarantine]!;
    expect(quarantined.filter((l) => l.startsWith(`${initech} cdnmetrics,`))).toHaveLength(3);
    expect(quarantined.filter((l) => l.startsWith(`${initech} {`))).toHaveLength(3);
    expect(quarantined.filter((l) => l.startsWith('- cdnmetrics,'))).toHaveLength(1);
  });
});
