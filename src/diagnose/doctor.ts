// `cdnkit doctor`: every hop the kit config names, checked in the order data flows through them
// (receivers -> Kafka -> bridges -> InfluxDB / Elasticsearch -> Grafana), each with a short timeout
// and connecting exactly as the bridges do (their settings, environment overrides and secrets).
// A failed check says what is wrong and what to change: a config key, an environment variable or
// a command. Nothing secret is put into a result.
import { connect } from 'node:net';
import kafkajs from 'kafkajs';
import { indexTemplate, indexTemplateName } from '../../generators/elasticsearch.js';
import { elasticsearchSinkOptions, influxSinkOptions, type BridgeKind } from '../bridge/bridge.js';
import { elasticsearchClient } from '../bridge/elasticsearch-sink.js';
import { kafkaBrokers, kafkaConnection, kafkaRefusal } from '../bridge/kafka-client.js';
import { securityProtocol } from '../config/model.js';
import type { KitConfig } from '../config/schema.js';
import { connectionHint } from '../stack/setup.js';
import { metricSamples } from './prometheus-text.js';

const { Kafka, logLevel } = kafkajs;

/** FAIL makes the exit status 1; warn and skip are said and do not. */
export type CheckStatus = 'ok' | 'FAIL' | 'warn' | 'skip';

export interface CheckResult {
  hop: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to change, for FAIL and warn. */
  fix?: string;
}

export interface DoctorOptions {
  /** Where to reach the receivers; default receivers.host (a wildcard address meaning this host). */
  receiversHost?: string;
  /** Base URLs of the bridges' operations endpoints; default http://<bridges.<kind>.listen>. */
  bridgeUrls: Partial<Record<BridgeKind, string>>;
  grafanaUrl?: string;
  /** Per check. */
  timeoutMs: number;
}

/** A listen address as a client reaches it: a wildcard means this host. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

function hostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The reason of a network failure: which target, and what usually causes it. */
function unreachable(what: string, target: string, error: unknown): string {
  return connectionHint(what, target, error).message.slice(what.length + 2);
}

function tcpAccepts(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', reject);
  });
}

async function receivers(config: KitConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const host = options.receiversHost ?? reachableHost(config.receivers.host);
  const hostFix = options.receiversHost ? '' : ' (receivers.host; --receivers-host checks another host)';
  return Promise.all(
    (['logs', 'metrics'] as const).map(async (kind): Promise<CheckResult> => {
      const port = config.receivers[`${kind}Port`];
      const target = hostPort(host, port);
      try {
        await tcpAccepts(host, port, options.timeoutMs);
        return { hop: 'receivers', status: 'ok', detail: `${kind} syslog receiver at ${target} accepts TCP` };
      } catch (error) {
        return {
          hop: 'receivers',
          status: 'FAIL',
          detail: `${kind} syslog receiver: ${unreachable('receiver', target, error)}`,
          fix: `start the ${kind} receiver (out/receivers/), or correct receivers.${kind}Port / the host${hostFix}`,
        };
      }
    }),
  );
}

async function kafka(config: KitConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const brokers = kafkaBrokers(config);
  const where = brokers.join(',');
  let connection;
  try {
    connection = kafkaConnection(brokers, config.kafka);
  } catch (error) {
    return [{ hop: 'kafka', status: 'FAIL', detail: (error as Error).message, fix: 'set the variable, or correct kafka.tls / kafka.sasl' }];
  }
  const admin = new Kafka({
    ...connection,
    clientId: 'cdnkit-doctor',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: options.timeoutMs,
    requestTimeout: options.timeoutMs,
  }).admin();
  try {
    try {
      await admin.connect();
    } catch (error) {
      const refusal = kafkaRefusal(error, connection, config.kafka)?.message;
      // Its message ends with what to fix, after the last "; ".
      const at = refusal?.lastIndexOf('; ') ?? -1;
      return [
        refusal && at > 0
          ? { hop: 'kafka', status: 'FAIL', detail: refusal.slice(0, at), fix: refusal.slice(at + 2) }
          : { hop: 'kafka', status: 'FAIL', detail: unreachable('kafka', where, error), fix: 'correct kafka.brokers (or CDNKIT_KAFKA_BROKERS), or start Kafka' },
      ];
    }
    const cluster = await admin.describeCluster();
    const results: CheckResult[] = [
      { hop: 'kafka', status: 'ok', detail: `brokers ${where} answer (${securityProtocol(config.kafka)}, ${cluster.brokers.length} broker(s), cluster ${cluster.clusterId})` },
    ];
    const existing = new Set(await admin.listTopics());
    for (const [role, topic] of Object.entries(config.kafka.topics)) {
      const key = `kafka.topics.${role}`;
      if (!existing.has(topic.name)) {
        results.push({ hop: 'kafka', status: 'FAIL', detail: `topic ${topic.name} (${key}) does not exist`, fix: `cdnkit stack setup kafka creates it; or correct ${key}.name` });
        continue;
      }
      const offsets = await admin.fetchTopicOffsets(topic.name);
      const partitions = offsets.length;
      const retained = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      const held = role === 'deadLetter' ? `, ${retained} dead letter(s) retained${retained > 0 ? ` (cdnkit dead-letters shows why)` : ''}` : '';
      if (partitions < topic.partitions) {
        results.push({
          hop: 'kafka',
          status: 'warn',
          detail: `topic ${topic.name} (${key}) has ${partitions} partition(s), the config says ${topic.partitions}${held}`,
          fix: `at most ${partitions} bridge instance(s) share it; cdnkit stack setup kafka grows it`,
        });
      } else results.push({ hop: 'kafka', status: 'ok', detail: `topic ${topic.name} (${key}) has ${partitions} partition(s)${held}` });
    }
    return results;
  } catch (error) {
    return [{ hop: 'kafka', status: 'FAIL', detail: `brokers ${where} answered the connection but not a request: ${(error as Error).message}`, fix: 'check the brokers\' health and the ACLs of the user' }];
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

interface Answer {
  status: number;
  body: unknown;
}

async function getJson(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body };
}

async function bridge(kind: BridgeKind, config: KitConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const hop = `bridge ${kind}`;
  const flag = `--bridge-${kind}-url`;
  const listen = config.bridges[kind].listen;
  const at = listen.lastIndexOf(':');
  const base = (options.bridgeUrls[kind] ?? `http://${hostPort(reachableHost(listen.slice(0, at).replace(/^\[|\]$/g, '')), listen.slice(at + 1))}`).replace(/\/+$/, '');
  let ready: Answer;
  try {
    ready = await getJson(`${base}/readyz`, options.timeoutMs);
  } catch (error) {
    // Bridges often run elsewhere (containers, other hosts): only a URL given on purpose must answer.
    if (options.bridgeUrls[kind]) return [{ hop, status: 'FAIL', detail: unreachable(hop, base, error), fix: `start the bridge (cdnkit bridge ${kind}), or correct ${flag}` }];
    return [{ hop, status: 'warn', detail: `not checked: not reachable at ${base} (bridges.${kind}.listen)`, fix: `where it runs elsewhere, pass ${flag} http://<host>:<port>` }];
  }
  const body = ready.body as { ready?: boolean; checks?: Record<string, boolean> };
  const checks = Object.entries(body.checks ?? {}).map(([name, ok]) => `${name} ${ok ? 'ok' : 'not ok'}`).join(', ');
  const results: CheckResult[] = [
    ready.status === 200
      ? { hop, status: 'ok', detail: `ready at ${base} (${checks})` }
      : {
          hop,
          status: 'FAIL',
          detail: `not ready at ${base}: HTTP ${ready.status} (${checks || String(ready.body).slice(0, 200)})`,
          fix: `its log says why (kafka not ok: not in the consumer group yet, or crashed; a sink not ok: the checks of that hop below)`,
        },
  ];
  try {
    const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(options.timeoutMs) });
    const text = await response.text();
    const lag = metricSamples(text, 'cdnkit_bridge_consumer_lag_lines');
    const lagLines = lag.reduce((sum, s) => sum + s.value, 0);
    const deadLettered = metricSamples(text, 'cdnkit_bridge_dead_lettered_lines_total')
      .filter((s) => s.value > 0)
      .sort((a, b) => b.value - a.value || (a.labels.reason ?? '').localeCompare(b.labels.reason ?? ''));
    const total = deadLettered.reduce((sum, s) => sum + s.value, 0);
    const byReason = deadLettered.map((s) => `${s.labels.reason ?? '?'}: ${s.value}`).join(', ');
    const detail = `consumer lag ${lagLines} line(s) over ${lag.length} assigned partition(s); ${total} line(s) dead-lettered since it started${byReason ? ` (${byReason})` : ''}`;
    results.push(total > 0 ? { hop, status: 'warn', detail, fix: 'cdnkit dead-letters shows the lines and their reasons' } : { hop, status: 'ok', detail });
  } catch (error) {
    results.push({ hop, status: 'FAIL', detail: `/metrics: ${unreachable(hop, base, error)}`, fix: 'the bridge answered /readyz but not /metrics: see its log' });
  }
  return results;
}

async function influxdb(config: KitConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const hop = 'influxdb';
  const { tokenEnv } = config.sinks.influxdb;
  let target;
  try {
    target = influxSinkOptions(config);
  } catch (error) {
    return [{ hop, status: 'FAIL', detail: (error as Error).message, fix: `export ${tokenEnv}=<an InfluxDB API token> (the variable is sinks.influxdb.tokenEnv)` }];
  }
  const { url, org, bucket } = target;
  const api = (path: string) => getJson(new URL(path, url).toString(), options.timeoutMs, { authorization: `Token ${target.token}` });
  let health: Answer;
  try {
    health = await getJson(new URL('/health', url).toString(), options.timeoutMs);
  } catch (error) {
    return [{ hop, status: 'FAIL', detail: unreachable(hop, url, error), fix: 'correct sinks.influxdb.url (or CDNKIT_INFLUX_URL), or start InfluxDB' }];
  }
  const version = (health.body as { version?: string }).version;
  if (health.status !== 200 || !version) {
    return [{ hop, status: 'FAIL', detail: `${url}/health answered HTTP ${health.status}, not as InfluxDB 2.x does`, fix: 'correct sinks.influxdb.url (or CDNKIT_INFLUX_URL)' }];
  }
  const results: CheckResult[] = [{ hop, status: 'ok', detail: `${url} answers (InfluxDB ${version})` }];
  const orgs = await api(`/api/v2/orgs?${new URLSearchParams({ org })}`);
  if (orgs.status === 401) {
    return [...results, { hop, status: 'FAIL', detail: `the token in ${tokenEnv} is refused (HTTP 401)`, fix: `set ${tokenEnv} to a valid token of org ${org} (influx auth list)` }];
  }
  const orgId = (orgs.body as { orgs?: { id: string }[] }).orgs?.[0]?.id;
  if (!orgId) {
    return [...results, { hop, status: 'FAIL', detail: `org ${org} not found (HTTP ${orgs.status}), or the token in ${tokenEnv} may not read it`, fix: 'correct sinks.influxdb.org (or CDNKIT_INFLUX_ORG)' }];
  }
  results.push({ hop, status: 'ok', detail: `the token in ${tokenEnv} is accepted; org ${org} exists` });
  const buckets = await api(`/api/v2/buckets?${new URLSearchParams({ orgID: orgId, name: bucket })}`);
  const bucketId = (buckets.body as { buckets?: { id: string }[] }).buckets?.[0]?.id;
  if (!bucketId) {
    return [...results, { hop, status: 'FAIL', detail: `bucket ${bucket} not found in org ${org}, or the token may not read it`, fix: `influx bucket create -n ${bucket} -o ${org}; or correct sinks.influxdb.bucket (or CDNKIT_INFLUX_BUCKET)` }];
  }
  results.push({ hop, status: 'ok', detail: `bucket ${bucket} exists` });
  // Grafana's InfluxQL datasource asks for database = the bucket's name, in its default retention
  // policy. InfluxDB 2.x (since 2.1) answers with a virtual mapping for every bucket by its name;
  // an explicit mapping of that database takes its place, and can point at another bucket.
  const dbrps = await api(`/api/v2/dbrps?${new URLSearchParams({ orgID: orgId, db: bucket })}`);
  if (dbrps.status !== 200) {
    return [...results, { hop, status: 'FAIL', detail: `cannot read the DBRP mappings (HTTP ${dbrps.status}) that InfluxQL panels need`, fix: `give the token in ${tokenEnv} read access to DBRPs, or check them with influx v1 dbrp list` }];
  }
  const mappings = (dbrps.body as { content?: { id: string; bucketID: string; retention_policy: string; default: boolean; virtual?: boolean }[] }).content ?? [];
  const mapping = mappings.find((m) => m.default) ?? mappings[0];
  if (!mapping || mapping.bucketID !== bucketId) {
    return [
      ...results,
      {
        hop,
        status: 'FAIL',
        detail: mapping
          ? `the DBRP mapping of database ${bucket} points at another bucket (id ${mapping.bucketID}): Grafana's InfluxQL panels read that one`
          : `no DBRP mapping for database ${bucket}: Grafana's InfluxQL panels (and cdnkit grafana check) get no data`,
        fix: mapping
          ? `influx v1 dbrp delete --id ${mapping.id} -o ${org} (the bucket's own mapping then applies), or rename sinks.influxdb.bucket`
          : `influx v1 dbrp create --db ${bucket} --rp autogen --bucket-id ${bucketId} --default -o ${org}`,
      },
    ];
  }
  results.push({ hop, status: 'ok', detail: `DBRP mapping ${bucket}/${mapping.retention_policy} -> bucket ${bucket}${mapping.virtual ? ' (virtual: by the bucket\'s name)' : ''}, for InfluxQL` });
  return results;
}

/** JSON with object keys sorted: Elasticsearch answers a mapping with its keys in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** The installed template's field mappings that differ from the generated ones. */
function mappingDifferences(installed: Record<string, unknown>, generated: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(installed), ...Object.keys(generated)])].sort();
  return keys.filter((k) => canonical(installed[k]) !== canonical(generated[k]));
}

async function elasticsearch(config: KitConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const hop = 'elasticsearch';
  let target;
  try {
    target = elasticsearchSinkOptions(config);
  } catch (error) {
    return [{ hop, status: 'FAIL', detail: (error as Error).message, fix: 'set the variable or correct the key it names (sinks.elasticsearch)' }];
  }
  const client = elasticsearchClient({ ...target, timeoutMs: options.timeoutMs });
  const name = indexTemplateName(config);
  const statusOf = (error: unknown) => (error as { meta?: { statusCode?: number } }).meta?.statusCode;
  try {
    let health;
    try {
      // Cluster health, not GET /: some distributions refuse the root path (as the sink's ping knows).
      health = await client.cluster.health({ timeout: '1s' });
    } catch (error) {
      const status = statusOf(error);
      if (status === 401 || status === 403) {
        const es = config.sinks.elasticsearch;
        const who = es.apiKeyEnv ? `the API key in ${es.apiKeyEnv}` : es.usernameEnv ? `the user in ${es.usernameEnv}` : 'no credentials (none configured)';
        return [{ hop, status: 'FAIL', detail: `${target.url} refused ${who} (HTTP ${status})`, fix: 'set sinks.elasticsearch.apiKeyEnv, or usernameEnv and passwordEnv, and those variables' }];
      }
      if (status) return [{ hop, status: 'FAIL', detail: `${target.url}: HTTP ${status}: ${(error as Error).message.slice(0, 200)}`, fix: 'correct sinks.elasticsearch.url (or CDNKIT_ES_URL)' }];
      return [{ hop, status: 'FAIL', detail: unreachable(hop, target.url, error), fix: 'correct sinks.elasticsearch.url (or CDNKIT_ES_URL), or start Elasticsearch' }];
    }
    const results: CheckResult[] = [
      health.status === 'red'
        ? { hop, status: 'FAIL', detail: `${target.url} answers, cluster ${health.cluster_name} is red`, fix: 'GET _cluster/allocation/explain says which shard cannot be assigned' }
        : { hop, status: 'ok', detail: `${target.url} answers (cluster ${health.cluster_name}, ${health.status})` },
    ];
    const expected = indexTemplate(config) as { index_patterns: string[]; template: { mappings: { properties: Record<string, unknown> } } };
    const install = `cdnkit stack setup elasticsearch --template out/elasticsearch/index-template.json (or PUT _index_template/${name} with that file)`;
    let installed;
    try {
      installed = (await client.indices.getIndexTemplate({ name })).index_templates[0]?.index_template;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    if (!installed) {
      results.push({ hop, status: 'FAIL', detail: `index template ${name} is not installed: documents would get guessed types`, fix: install });
      return results;
    }
    const patterns = [installed.index_patterns].flat();
    const differences = mappingDifferences((installed.template?.mappings?.properties ?? {}) as Record<string, unknown>, expected.template.mappings.properties);
    if (JSON.stringify(patterns) !== JSON.stringify(expected.index_patterns)) {
      results.push({ hop, status: 'FAIL', detail: `index template ${name} matches ${patterns.join(',')}, not ${expected.index_patterns.join(',')}`, fix: install });
    } else if (differences.length > 0) {
      results.push({ hop, status: 'warn', detail: `index template ${name} maps ${differences.join(', ')} differently from the config`, fix: `regenerate, then ${install}; existing indices keep their mapping` });
    } else results.push({ hop, status: 'ok', detail: `index template ${name} is installed and matches the config (${expected.index_patterns.join(',')})` });
    return results;
  } catch (error) {
    return [{ hop, status: 'FAIL', detail: `${target.url}: ${(error as Error).message.slice(0, 300)}`, fix: 'check the node and the privileges of the credentials (manage_index_templates to read templates)' }];
  } finally {
    await client.close();
  }
}

async function grafana(options: DoctorOptions): Promise<CheckResult[]> {
  const hop = 'grafana';
  if (!options.grafanaUrl) return [{ hop, status: 'skip', detail: 'not checked (pass --grafana-url); cdnkit grafana check runs every panel query' }];
  const url = options.grafanaUrl.replace(/\/+$/, '');
  try {
    const health = await getJson(`${url}/api/health`, options.timeoutMs);
    const body = health.body as { database?: string; version?: string };
    if (health.status === 200 && body.database === 'ok') return [{ hop, status: 'ok', detail: `${url} answers (Grafana ${body.version ?? '?'}, database ok)` }];
    return [{ hop, status: 'FAIL', detail: `${url}/api/health answered HTTP ${health.status} (database ${body.database ?? '?'})`, fix: "see Grafana's log; correct --grafana-url" }];
  } catch (error) {
    return [{ hop, status: 'FAIL', detail: unreachable(hop, url, error), fix: 'correct --grafana-url, or start Grafana' }];
  }
}

/**
 * Runs every check at once (each has its own timeout) and reports them in data-flow order as they
 * come in; resolves with all of them.
 */
export async function runDoctor(config: KitConfig, options: DoctorOptions, report: (result: CheckResult) => void): Promise<CheckResult[]> {
  const hops = [
    receivers(config, options),
    kafka(config, options),
    bridge('metrics', config, options),
    influxdb(config, options),
    bridge('logs', config, options),
    elasticsearch(config, options),
    grafana(options),
  ];
  const all: CheckResult[] = [];
  for (const hop of hops) {
    const results = await hop.catch((error: unknown): CheckResult[] => [{ hop: 'doctor', status: 'FAIL', detail: `unexpected: ${(error as Error).message}` }]);
    for (const result of results) {
      report(result);
      all.push(result);
    }
  }
  return all;
}

/** One line per check: status, hop, what was found, and for a problem what to change. */
export function formatResult(result: CheckResult): string {
  return `${result.status.padEnd(4)}  ${result.hop.padEnd(14)} ${result.detail}${result.fix ? ` — fix: ${result.fix}` : ''}`;
}
