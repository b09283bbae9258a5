// rsyslog receiver: imtcp → omkafka, one listening port and ruleset per log type.
import type { KitConfig, LogType } from '../src/config/schema.js';
import { tenantTopic } from '../src/tenants/names.js';
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

export function rsyslogConfig(config: KitConfig): string {
  const quoteList = (items: string[]) => items.map((i) => JSON.stringify(i)).join(', ');
  const acks = config.kafka.producer.acks === 'all' ? '-1' : config.kafka.producer.acks;
  const tenancy = config.tenants && config.tenants.list.length > 0 ? config.tenants : undefined;
  const quoted = (ids: string[]) => ids.map((id) => JSON.stringify(id)).join(', ');
  /** Which first words route this stream, and where; rsyslog compares against the whole list (any match). */
  const tenantsOf = (type: LogType) => {
    if (!tenancy) return false;
    const known = tenancy.list.filter((t) => t.logTypes.includes(type)).map((t) => t.id);
    const others = tenancy.list.filter((t) => !t.logTypes.includes(type)).map((t) => t.id);
    return {
      known: quoted(known.length > 0 ? known : ['']),
      others: others.length > 0 ? quoted(others) : false,
      topicTemplate: tenantTopic(tenancy, '%$.tenant%', type),
    };
  };
  const stream = (type: LogType, port: number, description: string) => ({
    description,
    tenants: tenantsOf(type),
    port,
    ruleset: `cdnkit_${type}`,
    topic: config.kafka.topics[type].name,
    brokers: quoteList(config.kafka.brokers),
    confParams: quoteList(librdkafkaParams(config)),
    acks,
  });
  return render('rsyslog/cdnkit.conf.hbs', {
    ...config,
    tenancy: tenancy ? { quarantine: tenancy.quarantine.name } : false,
    banner: generatedBanner('#'),
    maxMessageSize: MAX_MESSAGE_SIZE,
    streams: [
      stream('logs', config.receivers.logsPort, `Error-log JSON -> ${tenancy ? `each tenant's ${tenantTopic(tenancy, '<id>', 'logs')}` : config.kafka.topics.logs.name}`),
      stream('metrics', config.receivers.metricsPort, `ILP lines -> ${tenancy ? `each tenant's ${tenantTopic(tenancy, '<id>', 'metrics')}` : config.kafka.topics.metrics.name}`),
    ],
  });
}

export function generateRsyslog(config: KitConfig): Artifact[] {
  return [
    {
      path: 'receivers/rsyslog/cdnkit.conf',
      content: rsyslogConfig(config),
      description: `rsyslog: TCP ${config.receivers.logsPort} -> ${config.kafka.topics.logs.name}, TCP ${config.receivers.metricsPort} -> ${config.kafka.topics.metrics.name} (imtcp -> omkafka)`,
    },
  ];
}
