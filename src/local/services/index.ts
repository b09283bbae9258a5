// All the servers the integration tests and demos need, started together. Topic names and
// partition counts come from the reference kit config, as a user's stack would create them.
import { kitConfigSchema } from '../../config/schema.js';
import { referenceConfig } from '../../config/preset.js';
import { startElasticsearch } from './elasticsearch.js';
import { startInfluxDB } from './influxdb.js';
import { startKafka, type KafkaSecurityListeners } from './kafka.js';
import type { RunningService } from './types.js';

export interface ServiceAddresses {
  /** `security`: the SASL listeners and their admin; absent for a reused broker started without them. */
  kafka: { brokers: string[]; security?: KafkaSecurityListeners };
  elasticsearch: { url: string };
  influxdb: { url: string; org: string; bucket: string; token: string };
}

export interface StartedServices {
  addresses: ServiceAddresses;
  /** Stops the servers this run started; servers that were already running are left alone. */
  stop(): Promise<void>;
}

export function referenceTopics(): Record<string, number> {
  const { topics } = kitConfigSchema.parse(referenceConfig).kafka;
  return Object.fromEntries(Object.values(topics).map((t) => [t.name, t.partitions]));
}

export async function startServices(): Promise<StartedServices> {
  // Settle all three before deciding: a failure must not leave the others starting unseen. Each at
  // its fixed default address (or CDNKIT_KAFKA_BROKERS, CDNKIT_ES_URL, CDNKIT_INFLUX_URL), so
  // `cdnkit local servers up` (npm run services:up) and a later `npm test` meet on the same servers.
  const [kafka, elasticsearch, influxdb] = await Promise.allSettled([
    startKafka({ partitions: referenceTopics() }),
    startElasticsearch(),
    startInfluxDB(),
  ]);
  const running = [kafka, elasticsearch, influxdb].flatMap((r) => (r.status === 'fulfilled' ? [r.value as RunningService] : []));
  const stop = async () => {
    await Promise.allSettled(running.map((s) => s.stop()));
  };
  if (kafka.status === 'rejected' || elasticsearch.status === 'rejected' || influxdb.status === 'rejected') {
    await stop();
    const reasons = [kafka, elasticsearch, influxdb].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    throw reasons.length === 1 ? reasons[0] : new AggregateError(reasons, reasons.map((r) => String(r?.message ?? r)).join('; '));
  }
  return {
    addresses: {
      kafka: { brokers: kafka.value.brokers, ...(kafka.value.security ? { security: kafka.value.security } : {}) },
      elasticsearch: { url: elasticsearch.value.url },
      influxdb: { url: influxdb.value.url, org: influxdb.value.org, bucket: influxdb.value.bucket, token: influxdb.value.token },
    },
    stop,
  };
}
