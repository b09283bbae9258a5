// A bridge, assembled: settings from the kit config (addresses and secrets overridable from the
// environment), the sink for its kind, the Kafka runner, the operations server, and a graceful
// stop on SIGTERM or SIGINT.
import type { Server } from 'node:http';
import type { ElasticsearchSinkOptions } from './elasticsearch-sink.js';
import type { InfluxSinkOptions } from './influxdb-sink.js';
import type { KitConfig } from '../config/schema.js';
import { BRIDGE_ENV, env, readPem, requireEnv } from './environment.js';
import { checkKafkaAccepts, kafkaBrokers, kafkaConnection } from './kafka-client.js';
import { createRunner, type Runner } from './runner.js';
import { serveOperations } from './server.js';
import type { Sink } from './sink.js';
import { bridgeLogger, bridgeMetrics } from './telemetry.js';

export type BridgeKind = 'metrics' | 'logs';

export { BRIDGE_ENV };

export interface RunningBridge {
  /** Where /metrics, /healthz and /readyz answer. */
  address: string;
  stop(): Promise<void>;
  /** Settles when the bridge cannot go on (its consumer crashed for good): exit, and let a supervisor restart it. */
  readonly failed: Promise<Error>;
}

/** Where and as whom the metrics bridge writes; throws, naming the variable, when the token is unset. */
export function influxSinkOptions(config: KitConfig): InfluxSinkOptions {
  const influx = config.sinks.influxdb;
  return {
    url: env(BRIDGE_ENV.influxUrl) ?? influx.url,
    org: env(BRIDGE_ENV.influxOrg) ?? influx.org,
    bucket: env(BRIDGE_ENV.influxBucket) ?? influx.bucket,
    token: requireEnv(influx.tokenEnv, 'the InfluxDB token'),
  };
}

/** Where and as whom the logs bridge writes; throws, naming the variable or key, when a secret or file is missing. */
export function elasticsearchSinkOptions(config: KitConfig): ElasticsearchSinkOptions {
  const es = config.sinks.elasticsearch;
  return {
    url: env(BRIDGE_ENV.elasticsearchUrl) ?? es.url,
    indexPrefix: es.indexPrefix,
    ...(es.apiKeyEnv ? { apiKey: requireEnv(es.apiKeyEnv, 'the Elasticsearch API key') } : {}),
    ...(es.usernameEnv && es.passwordEnv
      ? { username: requireEnv(es.usernameEnv, 'the Elasticsearch user'), password: requireEnv(es.passwordEnv, 'the Elasticsearch password') }
      : {}),
    ...(es.caFile ? { ca: readPem(es.caFile, 'sinks.elasticsearch.caFile') } : {}),
  };
}

/** Loads only the client this bridge writes with: each is tens of MB of resident memory. */
async function sinkFor(kind: BridgeKind, config: KitConfig): Promise<Sink> {
  if (kind === 'metrics') {
    const { influxSink } = await import('./influxdb-sink.js');
    return influxSink(influxSinkOptions(config));
  }
  const { elasticsearchSink } = await import('./elasticsearch-sink.js');
  return elasticsearchSink(config, elasticsearchSinkOptions(config));
}

export async function startBridge(kind: BridgeKind, config: KitConfig): Promise<RunningBridge> {
  const settings = config.bridges[kind];
  const log = bridgeLogger(kind);
  const kafka = kafkaConnection(kafkaBrokers(config), config.kafka);
  await checkKafkaAccepts(kafka, config.kafka);
  const sink = await sinkFor(kind, config);
  const metrics = bridgeMetrics(kind, sink.deadLetterKinds);
  const runner: Runner = createRunner({
    bridge: kind,
    kafka,
    groupId: settings.groupId,
    topic: config.kafka.topics[kind].name,
    deadLetterTopic: config.kafka.topics.deadLetter.name,
    sink,
    maxBatchLines: settings.maxBatchLines,
    maxBatchBytes: settings.maxBatchBytes,
    maxHeldLines: settings.maxHeldLines,
    maxHeldBytes: settings.maxHeldBytes,
    maxConcurrentWrites: settings.maxConcurrentWrites,
    maxRetryDelayMs: settings.maxRetryDelayMs,
    metrics,
    log,
  });
  const listen = env(BRIDGE_ENV.listen) ?? settings.listen;
  const server: Server = await serveOperations(listen, {
    registry: metrics.registry,
    ready: async () => {
      const checks = { kafka: runner.isConsuming(), [sink.name]: await sink.ping() };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
  });
  const address = server.address();
  const where = typeof address === 'object' && address ? `${address.address}:${address.port}` : listen;
  try {
    await runner.start();
  } catch (error) {
    // The listening server would keep the process alive, serving a bridge that never started.
    await runner.stop().catch(() => undefined);
    await sink.close();
    server.close();
    throw error;
  }
  log.info({ topic: config.kafka.topics[kind].name, sink: sink.name, operations: where }, 'bridge started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      log.info('stopping: finishing the batch in flight, committing, leaving the group');
      await runner.stop();
      await sink.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.info('stopped');
    })());
  return { address: where, stop, failed: runner.crashed };
}
