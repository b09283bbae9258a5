// rsyslog receiver: imtcp → omkafka, one listening port and ruleset per log type.
import { securityProtocol } from '../src/config/model.js';
import { LOG_TYPES, type KitConfig, type LogType, type TenantsConfig } from '../src/config/schema.js';
import { NOT_SUBSCRIBED, tenantRoutes, tenantTableFile, tenantTopic } from '../src/tenants/names.js';
import type { Artifact } from './artifact.js';
import { generatedBanner, registerHelper, render } from './render.js';

registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).join(''));

/** Room for an error-log line whose every header is long; rsyslog's default is 8 KiB. */
const MAX_MESSAGE_SIZE = '64k';

/** librdkafka settings from the kit's producer settings. */
function librdkafkaParams(config: KitConfig): string[] {
  const p = config.kafka.producer;
  return [
    `compression.codec=${p.compression}`,
    `linger.ms=${p.lingerMs}`,
    `batch.num.messages=${p.batchMessages}`,
    `queue.buffering.max.messages=${p.queueMessages}`,
    `retry.backoff.ms=${p.retryBackoffMs}`,
  ];
}

/**
 * librdkafka's TLS and SASL settings, as rsyslog array items. A secret is never written here: a
 * backtick item is rsyslog's `echo`, which expands the environment variable when rsyslogd reads
 * its config, so the variable must be in rsyslogd's environment (systemd: Environment=).
 */
function securityParams({ kafka: { tls, sasl } }: KitConfig): string[] {
  if (!tls && !sasl) return [];
  const constant = (param: string) => JSON.stringify(param);
  const fromEnv = (param: string, variable: string) => `\`echo ${param}=$${variable}\``;
  const params = [constant(`security.protocol=${securityProtocol({ tls, sasl })}`)];
  if (tls?.caFile) params.push(constant(`ssl.ca.location=${tls.caFile}`));
  if (tls?.certFile) {
    params.push(constant(`ssl.certificate.location=${tls.certFile}`), constant(`ssl.key.location=${tls.keyFile ?? tls.certFile}`));
    if (tls.keyPassphraseEnv) params.push(fromEnv('ssl.key.password', tls.keyPassphraseEnv));
  }
  if (sasl) {
    params.push(constant(`sasl.mechanisms=${sasl.mechanism}`), constant(`sasl.username=${sasl.username}`), fromEnv('sasl.password', sasl.passwordEnv));
  }
  return params;
}

/** Above rsyslog's default of 50 open topics: one per tenant and type, so a busy edge does not keep reopening them. */
function dynaTopicCacheSize(tenants: number): number {
  return Math.max(1000, 2 * tenants);
}

export function rsyslogConfig(config: KitConfig): string {
  const quoteList = (items: string[]) => items.map((i) => JSON.stringify(i)).join(', ');
  const acks = config.kafka.producer.acks === 'all' ? '-1' : config.kafka.producer.acks;
  const tenancy = config.tenants && config.tenants.list.length > 0 ? config.tenants : undefined;
  const stream = (type: LogType, port: number, description: string) => ({
    description,
    tenants: tenancy ? { table: `cdnkit_${type}_tenants`, file: `${tenancy.tablesDir}/${tenantTableFile('rsyslog', type)}` } : false,
    port,
    ruleset: `cdnkit_${type}`,
    topic: config.kafka.topics[type].name,
    brokers: quoteList(config.kafka.brokers),
    confParams: [quoteList(librdkafkaParams(config)), ...securityParams(config)].join(', '),
    acks,
  });
  return render('rsyslog/cdnkit.conf.hbs', {
    ...config,
    tenancy: tenancy ? { quarantine: tenancy.quarantine.name, notSubscribed: NOT_SUBSCRIBED, topicCacheSize: dynaTopicCacheSize(tenancy.list.length) } : false,
    // librdkafka before 2.6.1 repeats the client nonce in its SCRAM proof, which Kafka 4 checks
    // strictly (librdkafka#4895): measured here with Debian 12's 2.0.2, refused at authentication.
    scramNote: config.kafka.sasl?.mechanism.startsWith('SCRAM')
      ? `# ${config.kafka.sasl.mechanism} against Kafka 4.x needs librdkafka 2.6.1 or newer (Debian 12 ships 2.0.2, which Kafka 4 refuses).\n`
      : '',
    banner: generatedBanner('#'),
    maxMessageSize: MAX_MESSAGE_SIZE,
    streams: [
      stream('logs', config.receivers.logsPort, `Error-log JSON -> ${tenancy ? `each tenant's ${tenantTopic(tenancy, '<id>', 'logs')}` : config.kafka.topics.logs.name}`),
      stream('metrics', config.receivers.metricsPort, `ILP lines -> ${tenancy ? `each tenant's ${tenantTopic(tenancy, '<id>', 'metrics')}` : config.kafka.topics.metrics.name}`),
    ],
  });
}

/** rsyslog's lookup table (type string): tenant id -> topic; an id not in it looks up as "". */
export function rsyslogTenantTable(tenants: TenantsConfig, type: LogType): string {
  const table = tenantRoutes(tenants, type).map(([index, value]) => ({ index, value }));
  return `${JSON.stringify({ version: 1, nomatch: '', type: 'string', table }, null, 1)}\n`;
}

export function generateRsyslog(config: KitConfig): Artifact[] {
  const tenants = config.tenants && config.tenants.list.length > 0 ? config.tenants : undefined;
  return [
    {
      path: 'receivers/rsyslog/cdnkit.conf',
      content: rsyslogConfig(config),
      description: tenants
        ? `rsyslog: TCP ${config.receivers.logsPort} (logs) and ${config.receivers.metricsPort} (metrics) -> each tenant's topic by the tables below, unknown ids -> ${tenants.quarantine.name} (imtcp -> omkafka)`
        : `rsyslog: TCP ${config.receivers.logsPort} -> ${config.kafka.topics.logs.name}, TCP ${config.receivers.metricsPort} -> ${config.kafka.topics.metrics.name} (imtcp -> omkafka)`,
    },
    ...(tenants
      ? LOG_TYPES.map((type) => ({
          path: `receivers/rsyslog/${tenantTableFile('rsyslog', type)}`,
          content: rsyslogTenantTable(tenants, type),
          description: `rsyslog lookup table, tenant id -> ${type} topic; install in ${tenants.tablesDir}, then SIGHUP rsyslogd to reload it`,
        }))
      : []),
  ];
}
