// How the tenant commands reach Kafka as an administrator: the kit config's brokers (or
// CDNKIT_KAFKA_BROKERS), TLS and SASL, as the bridges connect (kafka-client.ts), for the Admin API;
// the same listener and identity, as Java client properties, for ConfigCommand.
import kafkajs from 'kafkajs';
import { kafkaBrokers, kafkaConnection } from '../bridge/kafka-client.js';
import { requireEnv } from '../bridge/environment.js';
import { securityProtocol } from '../config/model.js';
import type { KitConfig } from '../config/schema.js';
import type { TenantAdmin } from './admin.js';
import { configCommandFromEnvironment } from './config-command.js';

const { Kafka, logLevel } = kafkajs;

export function tenantAdmin(config: KitConfig): TenantAdmin {
  const brokers = kafkaBrokers(config);
  const admin = new Kafka({ ...kafkaConnection(brokers, config.kafka), clientId: 'cdnkit-tenants', logLevel: logLevel.NOTHING, retry: { retries: 3 } }).admin();
  return { admin, configCommand: configCommandFromEnvironment(brokers, javaClientProperties(config)) };
}

/** The kit config's TLS and SASL settings as Kafka Java client properties; undefined for PLAINTEXT. */
function javaClientProperties({ kafka: { tls, sasl } }: KitConfig): Record<string, string> | undefined {
  if (!tls && !sasl) return undefined;
  const properties: Record<string, string> = { 'security.protocol': securityProtocol({ tls, sasl }) };
  if (tls?.caFile) Object.assign(properties, { 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': tls.caFile });
  if (tls?.certFile) {
    // Java's PEM keystore wants the key and the certificate in one file: certFile when it holds both.
    if (tls.keyFile && tls.keyFile !== tls.certFile) throw new Error('kafka.tls: for the tenant commands, give certFile as one PEM file holding the key and the certificate (Kafka\'s PEM keystore)');
    Object.assign(properties, { 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': tls.certFile });
  }
  if (sasl) {
    const password = requireEnv(sasl.passwordEnv, `the password of the Kafka user ${sasl.username}`);
    const module = sasl.mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule';
    Object.assign(properties, {
      'sasl.mechanism': sasl.mechanism,
      'sasl.jaas.config': `${module} required username="${sasl.username}" password="${password}";`,
    });
  }
  return properties;
}
