// The compose stack's one-shot set-up steps, each safe to re-run: Kafka topics, the Elasticsearch
// index template, the Kibana data view. `cdnkit stack setup <step>` runs one; the stack runs each
// as a service that exits 0 when done, and the services that need it wait for that. A connection
// failure says what kind it is and what usually causes it, as docker-elk's set-up does.
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { indexTemplateName } from '../../generators/elasticsearch.js';
import { kafkaBrokers, kafkaConnection } from '../bridge/kafka-client.js';
import { env } from '../bridge/environment.js';
import type { KitConfig } from '../config/schema.js';

const { Kafka, logLevel } = kafkajs;

export type Say = (line: string) => void;

/** The id of the Kibana data view over the error logs, fixed so a re-run updates it. */
export const ERROR_LOGS_DATA_VIEW_ID = 'cdnkit-error-logs';

/** A network error as a hint: which host, and what is usually wrong. */
export function connectionHint(what: string, target: string, error: unknown): Error {
  const cause = error as { code?: string; cause?: { code?: string }; name?: string; message?: string };
  const code = cause.cause?.code ?? cause.code ?? (cause.name === 'TimeoutError' ? 'ETIMEDOUT' : undefined);
  const hint =
    code === 'ENOTFOUND' || code === 'EAI_AGAIN'
      ? `cannot resolve the host of ${target}: is the service running in this compose project (docker compose ps)?`
      : code === 'ECONNREFUSED'
        ? `cannot connect to ${target}: the service is not listening yet, or on another port`
        : code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
          ? `timed out reaching ${target}: the service is overloaded or a firewall drops the packets`
          : `${target}: ${cause.message ?? String(error)}`;
  return new Error(`${what}: ${hint}`);
}

/** Creates each configured topic that is missing and adds partitions where it has fewer than configured. */
export async function setupKafkaTopics(config: KitConfig, say: Say): Promise<void> {
  const brokers = kafkaBrokers(config);
  const admin = new Kafka({ ...kafkaConnection(brokers, config.kafka), clientId: 'cdnkit-stack-setup', logLevel: logLevel.NOTHING, retry: { retries: 5 } }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw connectionHint('kafka topics', brokers.join(','), error);
  }
  try {
    const wanted = Object.values(config.kafka.topics);
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({ waitForLeaders: true, topics: missing.map((t) => ({ topic: t.name, numPartitions: t.partitions })) });
      for (const t of missing) say(`kafka: created topic ${t.name} (${t.partitions} partitions)`);
    }
    const present = wanted.filter((t) => existing.has(t.name));
    if (present.length === 0) return;
    const { topics } = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
    for (const t of present) {
      const has = topics.find((m) => m.name === t.name)?.partitions.length ?? 0;
      if (has < t.partitions) {
        await admin.createPartitions({ topicPartitions: [{ topic: t.name, count: t.partitions }] });
        say(`kafka: topic ${t.name} grown from ${has} to ${t.partitions} partitions`);
      } else say(`kafka: topic ${t.name} exists (${has} partitions), unchanged`);
    }
  } finally {
    await admin.disconnect();
  }
}

async function request(what: string, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw connectionHint(what, new URL(url).origin, error);
  }
}

async function expectOk(what: string, response: Response): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** PUTs the generated index template (a PUT replaces it: re-running is harmless). */
export async function setupElasticsearchTemplate(config: KitConfig, templateFile: string, say: Say): Promise<void> {
  const url = env('CDNKIT_ES_URL') ?? config.sinks.elasticsearch.url;
  const name = indexTemplateName(config);
  const body = readFileSync(templateFile, 'utf8');
  const target = `${url.replace(/\/$/, '')}/_index_template/${encodeURIComponent(name)}`;
  await expectOk('elasticsearch index template', await request('elasticsearch index template', target, { method: 'PUT', headers: { 'content-type': 'application/json' }, body }));
  say(`elasticsearch: index template ${name} installed from ${templateFile}`);
}

/** The data view Kibana's Discover opens on: the error-log indices, by event time. */
export function errorLogsDataView(config: KitConfig): { id: string; title: string; name: string; timeFieldName: string } {
  return { id: ERROR_LOGS_DATA_VIEW_ID, title: `${config.sinks.elasticsearch.indexPrefix}-*`, name: 'cdnkit error logs', timeFieldName: '@timestamp' };
}

/** Creates or replaces (override) the error-logs data view through Kibana's data views API. */
export async function setupKibanaDataView(config: KitConfig, kibanaUrl: string, say: Say): Promise<void> {
  const view = errorLogsDataView(config);
  const target = `${kibanaUrl.replace(/\/$/, '')}/api/data_views/data_view`;
  await expectOk(
    'kibana data view',
    await request('kibana data view', target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'kbn-xsrf': 'cdnkit' },
      body: JSON.stringify({ data_view: view, override: true }),
    }),
  );
  say(`kibana: data view "${view.name}" (${view.title}, id ${view.id}) in place`);
}
