// How the tenant commands reach Kafka as an administrator: the kit config's brokers (or
// CDNKIT_KAFKA_BROKERS) for the Admin API, and the same listener for ConfigCommand.
import kafkajs from 'kafkajs';
import type { KitConfig } from '../config/schema.js';
import type { TenantAdmin } from './admin.js';
import { configCommandFromEnvironment } from './scram.js';

const { Kafka, logLevel } = kafkajs;

export function tenantAdmin(config: KitConfig): TenantAdmin {
  const brokers = process.env.CDNKIT_KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean) || config.kafka.brokers;
  const admin = new Kafka({ clientId: 'cdnkit-tenants', brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } }).admin();
  return { admin, configCommand: configCommandFromEnvironment(brokers) };
}
