// Logstash receivers: one pipeline per log type as plain files, and one consul-template file whose
// type comes from CDN_LOG_TYPE, as the reference ran them. All three come from one Handlebars
// template; `byType` either picks a branch (plain) or writes it as a Go-template conditional
// (consul-template), so a rendering of the .ctmpl equals the plain file byte for byte.
import { securityProtocol } from '../src/config/model.js';
import { LOG_TYPES, type KitConfig, type LogType, type TenantsConfig } from '../src/config/schema.js';
import { NOT_SUBSCRIBED, tenantRoutes, tenantTableFile } from '../src/tenants/names.js';
import type { Artifact } from './artifact.js';
import { generatedBanner, registerHelper, render } from './render.js';

export type { LogType };

/** The environment variable the consul-template file reads, as in the reference. */
export const LOG_TYPE_ENV = 'CDN_LOG_TYPE';

registerHelper('byType', function (this: unknown, options: Handlebars.HelperOptions) {
  const logType = (options.data as { root: { logType?: LogType } }).root.logType;
  const metrics = options.fn(this);
  const logs = options.inverse(this);
  if (logType === 'metrics') return metrics;
  if (logType === 'logs') return logs;
  return `{{ if eq $logtype "metrics" }}${metrics}{{ else }}${logs}{{ end }}`;
});

/** The JAAS login module of each SASL mechanism in Kafka's Java client. */
const LOGIN_MODULE = {
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
} as const;

/**
 * The kafka output's TLS and SASL settings. Secrets stay ${NAME}: Logstash substitutes environment
 * variables in its config when it loads it. Its Java client reads PEM, but a client key only from
 * the same PEM file as the certificate (a keystore), so certFile is that file here.
 */
function kafkaSecurity({ kafka: { tls, sasl } }: KitConfig): { key: string; value: string }[] {
  if (!tls && !sasl) return [];
  const settings: [string, string][] = [['security_protocol', securityProtocol({ tls, sasl })]];
  if (tls?.caFile) settings.push(['ssl_truststore_type', 'PEM'], ['ssl_truststore_location', tls.caFile]);
  if (tls?.certFile) {
    settings.push(['ssl_keystore_type', 'PEM'], ['ssl_keystore_location', tls.certFile]);
    if (tls.keyPassphraseEnv) settings.push(['ssl_key_password', `\${${tls.keyPassphraseEnv}}`]);
  }
  if (sasl) {
    // JAAS accepts single quotes, so the value needs no escapes inside Logstash's double quotes.
    const jaas = `${LOGIN_MODULE[sasl.mechanism]} required username='${sasl.username}' password='\${${sasl.passwordEnv}}';`;
    settings.push(['sasl_mechanism', sasl.mechanism], ['sasl_jaas_config', jaas]);
  }
  return settings.map(([key, value]) => ({ key, value }));
}

/** How often Logstash re-reads a tenant table (translate's refresh_interval), so a new tenant needs no restart. */
const TABLE_REFRESH_SECONDS = 60;

function context(config: KitConfig, logType: LogType | undefined) {
  const tenants = config.tenants && config.tenants.list.length > 0 ? config.tenants : undefined;
  const tenancy = tenants && {
    quarantine: tenants.quarantine.name,
    notSubscribed: NOT_SUBSCRIBED,
    refreshSeconds: TABLE_REFRESH_SECONDS,
    tables: Object.fromEntries(LOG_TYPES.map((type) => [type, `${tenants.tablesDir}/${tenantTableFile('logstash', type)}`])),
  };
  return { ...config, logType, tenancy, brokers: config.kafka.brokers.join(','), kafkaSecurity: kafkaSecurity(config), banner: generatedBanner('#') };
}

/** translate's dictionary: tenant id -> topic, from the same routes as rsyslog's lookup table. */
export function logstashTenantDictionary(tenants: TenantsConfig, type: LogType): string {
  return `${JSON.stringify(Object.fromEntries(tenantRoutes(tenants, type)), null, 1)}\n`;
}

export function logstashPipeline(config: KitConfig, logType: LogType): string {
  return render('logstash/receiver.conf.hbs', context(config, logType));
}

export function logstashConsulTemplate(config: KitConfig): string {
  // Go-template comments with trim markers leave no trace in the rendered file.
  const head =
    `{{- /* Set ${LOG_TYPE_ENV} to "metrics" or "logs" in the receiver's environment. */ -}}\n` +
    `{{- $logtype := env "${LOG_TYPE_ENV}" -}}\n`;
  return head + render('logstash/receiver.conf.hbs', context(config, undefined));
}

export function generateLogstash(config: KitConfig): Artifact[] {
  const tenants = config.tenants && config.tenants.list.length > 0 ? config.tenants : undefined;
  const destination = (type: LogType) => (tenants ? `each tenant's ${type} topic by the table below, unknown ids -> ${tenants.quarantine.name}` : `Kafka ${config.kafka.topics[type].name}`);
  return [
    {
      path: `receivers/logstash/${config.kafka.topics.logs.name}.conf`,
      content: logstashPipeline(config, 'logs'),
      description: `Logstash pipeline: error-log JSON on TCP ${config.receivers.logsPort} -> ${destination('logs')}`,
    },
    {
      path: `receivers/logstash/${config.kafka.topics.metrics.name}.conf`,
      content: logstashPipeline(config, 'metrics'),
      description: `Logstash pipeline: ILP lines on TCP ${config.receivers.metricsPort} -> ${destination('metrics')}`,
    },
    {
      path: 'receivers/logstash/cdn-receiver.conf.ctmpl',
      content: logstashConsulTemplate(config),
      description: `both pipelines as one consul-template file; ${LOG_TYPE_ENV}=logs|metrics picks the type`,
    },
    ...(tenants
      ? LOG_TYPES.map((type) => ({
          path: `receivers/logstash/${tenantTableFile('logstash', type)}`,
          content: logstashTenantDictionary(tenants, type),
          description: `Logstash translate dictionary, tenant id -> ${type} topic; install in ${tenants.tablesDir} (re-read every ${TABLE_REFRESH_SECONDS} s)`,
        }))
      : []),
  ];
}
