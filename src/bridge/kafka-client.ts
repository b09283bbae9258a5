// How a bridge reaches Kafka: the brokers, TLS and SASL of the kit config, with the files read and
// the password taken from the environment when the bridge starts. The runner adds its own logging
// and retry settings; everything about where and as whom it connects is decided here.
import kafkajs, { type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { KafkaSecurity, KitConfig, SaslMechanism } from '../config/schema.js';
import { BRIDGE_ENV, env, requireEnv, readPem } from './environment.js';

const { Kafka, logLevel } = kafkajs;

export type KafkaConnection = Required<Pick<KafkaConfig, 'brokers'>> & Pick<KafkaConfig, 'ssl' | 'sasl'>;

/** The brokers: CDNKIT_KAFKA_BROKERS (comma-separated), else kafka.brokers. */
export function kafkaBrokers(config: KitConfig): string[] {
  return env(BRIDGE_ENV.brokers)?.split(',').map((b) => b.trim()).filter(Boolean) ?? config.kafka.brokers;
}

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

/** TLS failures no retry mends: a broker certificate we do not trust, or a client certificate it refuses. */
const TLS_REFUSAL = /CERT|SIGNATURE|^ERR_SSL_|^ERR_TLS_/;

/**
 * Connects once to learn whether the brokers accept who we are. The runner's client retries without
 * end to ride out broker restarts, so refused credentials or an untrusted certificate would look
 * like a broker that never comes up: these throw, saying what to fix. An unreachable broker is
 * left to the runner's retries.
 */
export async function checkKafkaAccepts(connection: KafkaConnection, { tls, sasl }: KafkaSecurity): Promise<void> {
  const admin = new Kafka({ ...connection, clientId: 'cdnkit-connection-check', logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
  } catch (error) {
    const refusal = kafkaRefusal(error, connection, { tls, sasl });
    if (refusal) throw refusal;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The error explained, when it is the brokers refusing who we are (SASL) or TLS failing; else undefined. */
export function kafkaRefusal(error: unknown, connection: KafkaConnection, { tls, sasl }: KafkaSecurity): Error | undefined {
  const where = connection.brokers.toString();
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause ?? (cause as { originalError?: unknown }).originalError) {
    if (cause.name === 'KafkaJSSASLAuthenticationError' && sasl) {
      return new Error(`Kafka at ${where} refused user ${sasl.username} (${sasl.mechanism}): ${cause.message}; check kafka.sasl.username and the password in ${sasl.passwordEnv}`);
    }
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_REFUSAL.test(code)) {
      const fix = tls?.caFile ? "check that kafka.tls.caFile holds the CA that signed the brokers' certificates" : "set kafka.tls.caFile to the CA that signed the brokers' certificates";
      return new Error(`TLS with Kafka at ${where} failed: ${cause.message} (${code}); ${fix}`);
    }
  }
  return undefined;
}
