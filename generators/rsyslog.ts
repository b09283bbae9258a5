// rsyslog receiver: imtcp → omkafka, one listening port and ruleset per log type.
import { securityProtocol } from '../src/config/model.js';
import type { KitConfig } from '../src/config/schema.js';
import type { Artifact } from './artifact.js';
import { generatedBanner, render } from './render.js';

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

export function rsyslogConfig(config: KitConfig): string {
  const quoteList = (items: string[]) => items.map((i) => JSON.stringify(i)).join(', ');
  const acks = config.kafka.producer.acks === 'all' ? '-1' : config.kafka.producer.acks;
  const stream = (type: 'logs' | 'metrics', port: number, description: string) => ({
    description,
    port,
    ruleset: `cdnkit_${type}`,
    topic: config.kafka.topics[type].name,
    brokers: quoteList(config.kafka.brokers),
    confParams: [quoteList(librdkafkaParams(config)), ...securityParams(config)].join(', '),
    acks,
  });
  return render('rsyslog/cdnkit.conf.hbs', {
    ...config,
    // librdkafka before 2.6.1 repeats the client nonce in its SCRAM proof, which Kafka 4 checks
    // strictly (librdkafka#4895): measured here with Debian 12's 2.0.2, refused at authentication.
    scramNote: config.kafka.sasl?.mechanism.startsWith('SCRAM')
      ? `# ${config.kafka.sasl.mechanism} against Kafka 4.x needs librdkafka 2.6.1 or newer (Debian 12 ships 2.0.2, which Kafka 4 refuses).\n`
      : '',
    banner: generatedBanner('#'),
    maxMessageSize: MAX_MESSAGE_SIZE,
    streams: [
      stream('logs', config.receivers.logsPort, `Error-log JSON -> ${config.kafka.topics.logs.name}`),
      stream('metrics', config.receivers.metricsPort, `ILP lines -> ${config.kafka.topics.metrics.name}`),
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
