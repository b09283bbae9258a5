// How a bridge reaches Kafka: the brokers, TLS and SASL of the kit config, with the files read and
// the password taken from the environment when the bridge starts. The runner adds its own logging
// and retry settings; everything about where and as whom it connects is decided here.
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { KafkaSecurity, SaslMechanism } from '../config/schema.js';
import { requireEnv, readPem } from './environment.js';

export type KafkaConnection = Required<Pick<KafkaConfig, 'brokers'>> & Pick<KafkaConfig, 'ssl' | 'sasl'>;

/** kafkajs names the mechanisms in lower case. */
const KAFKAJS_MECHANISM = { 'SCRAM-SHA-512': 'scram-sha-512', 'SCRAM-SHA-256': 'scram-sha-256', PLAIN: 'plain' } as const satisfies Record<SaslMechanism, string>;

export function kafkaConnection(brokers: string[], { tls, sasl }: KafkaSecurity): KafkaConnection {
  const connection: KafkaConnection = { brokers };
  if (tls) {
    const key = tls.keyFile ?? tls.certFile;
    connection.ssl = {
      ...(tls.caFile ? { ca: [readPem(tls.caFile, 'kafka.tls.caFile')] } : {}),
      ...(tls.certFile ? { cert: readPem(tls.certFile, 'kafka.tls.certFile') } : {}),
      ...(key ? { key: readPem(key, tls.keyFile ? 'kafka.tls.keyFile' : 'kafka.tls.certFile') } : {}),
      ...(tls.keyPassphraseEnv ? { passphrase: requireEnv(tls.keyPassphraseEnv, 'the passphrase of the Kafka client key') } : {}),
    };
  }
  if (sasl) {
    connection.sasl = {
      mechanism: KAFKAJS_MECHANISM[sasl.mechanism],
      username: sasl.username,
      password: requireEnv(sasl.passwordEnv, `the password of the Kafka user ${sasl.username}`),
    } as SASLOptions;
  }
  return connection;
}
