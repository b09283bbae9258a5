// Derived views of the kit config that every generator shares, so "which fields are tags" or
// "what is this field's JSON key" is decided in exactly one place.
import type { Field, KafkaSecurity, KitConfig } from './schema.js';

/** The key a field has in the error-log JSON (and so in Elasticsearch). */
export function logKeyOf(field: Field): string {
  return field.logKey ?? field.name;
}

export interface FieldViews {
  /** In the error-log JSON, in declaration order. */
  log: Field[];
  /** ILP tags, in declaration order. */
  tags: Field[];
  /** ILP fields, in declaration order. */
  metricFields: Field[];
}

export function fieldViews(config: KitConfig): FieldViews {
  const withRole = (role: Field['roles'][number]) => config.fields.filter((f) => f.roles.includes(role));
  return { log: withRole('log'), tags: withRole('tag'), metricFields: withRole('field') };
}

/** The constant a `kit:` field stands for. */
export function kitValue(field: Field, config: KitConfig): string | undefined {
  return field.kit === undefined ? undefined : config[field.kit];
}

/** Kafka's name for how a client connects, the same in librdkafka and the Java client. */
export function securityProtocol({ tls, sasl }: KafkaSecurity): 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL' {
  if (tls) return sasl ? 'SASL_SSL' : 'SSL';
  return sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
}
