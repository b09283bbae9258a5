// The kit config: the one file a platform engineer writes. Every generator, bridge and dashboard
// reads this typed object, so a field declared here cannot disagree between artifacts.
// Descriptions become the published JSON Schema's, which editors show on hover.
import { z } from 'zod';
import { GRAFANA_UNITS } from './grafana-units.js';

/** Names that travel into VCL, JSON keys, ILP keys and Elasticsearch fields must be safe in all four. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
// Hosts end up inside Logstash, rsyslog and Go-template files: a plain charset keeps them inert.
const HOST = /^[A-Za-z0-9._-]+$|^\[?[0-9A-Fa-f:.]+\]?$/;
const HOST_PORT = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;
/** Kafka's own rule for topic names. */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

const name = (what: string) =>
  z
    .string()
    .regex(NAME, `${what} must start with a letter and contain only letters, digits, "_" and "-"`);

const port = z.int().min(1).max(65535);
const MiB = 2 ** 20;

// Secrets never sit in the kit config nor in what is generated from it: the config names the
// environment variable, and each program reads it at run time (rsyslog by `echo $NAME`, Logstash
// by ${NAME}), so the name must be a plain shell variable name.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = (what: string) =>
  z.string().regex(ENV_NAME, 'an environment variable name: letters, digits and "_", not starting with a digit').describe(`Environment variable holding ${what}`);
// Paths and user names are written into rsyslog, Logstash (Java JAAS) and Go-template files:
// absolute, and free of quotes, backslashes, "$", braces and control characters.
const filePath = (what: string) =>
  z.string().regex(/^\/[^"'`\\${}\x00-\x1f]*$/, 'an absolute path without quotes, backslashes, "$", braces or control characters').describe(what);

export const SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const;

const kafkaTlsSchema = z
  .strictObject({
    caFile: filePath('PEM file of the CA(s) that signed the brokers\' certificates; the system CAs when omitted').optional(),
    certFile: filePath('PEM client certificate, for brokers that require one (ssl.client.auth)').optional(),
    keyFile: filePath('PEM private key of certFile; defaults to certFile (one file holding both)').optional(),
    keyPassphraseEnv: envName('the passphrase of an encrypted keyFile').optional(),
  })
  .describe('Connect to the brokers over TLS (SSL / SASL_SSL listeners)');

const kafkaSaslSchema = z
  .strictObject({
    mechanism: z.enum(SASL_MECHANISMS).default('SCRAM-SHA-512'),
    username: z.string().regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits, ".", "_", "@" and "-"').describe('The Kafka user (not a secret)'),
    passwordEnv: envName("the Kafka user's password").default('CDNKIT_KAFKA_PASSWORD'),
  })
  .describe('Authenticate to the brokers with SASL (SASL_PLAINTEXT, or SASL_SSL together with tls)');
/** A Grafana/Prometheus duration. */
const DURATION = /^\d+(ms|s|m|h|d)$/;

export const FIELD_TYPES = ['string', 'integer', 'float', 'boolean', 'timestamp', 'ip'] as const;
export const FIELD_ROLES = ['log', 'tag', 'field'] as const;
export const CDN_FLAVOURS = ['fastly', 'varnish'] as const;

const varnishSource = z.union([
  z.string().min(1).describe('A Varnish VCL expression evaluated in vcl_deliver, e.g. req.http.API-Name'),
  z
    .strictObject({
      vcl: z.string().min(1).describe('A Varnish VCL expression evaluated in vcl_deliver'),
    })
    .describe('A Varnish VCL expression evaluated in vcl_deliver'),
  z
    .strictObject({
      ncsa: z
        .string()
        .min(1)
        .describe('A varnishncsa format specifier, e.g. %s, %D or %{Varnish:time_firstbyte}x'),
    })
    .describe('A value only varnishncsa knows (timings, bytes)'),
]);

/** A value `cdnkit simulate` may give a field: printable, and short enough to be a tag value. */
const simulatedText = z.string().regex(/^[^\u0000-\u001f\u007f]{1,128}$/, '1 to 128 characters, no control characters');
const simulatedValue = z.union([simulatedText, z.number(), z.boolean()]);

export const simulateHintSchema = z
  .strictObject({
    values: z
      .union([
        z.array(simulatedValue).min(1).describe('Equally likely values, e.g. [GET, POST]'),
        z
          .record(simulatedText, z.number().positive())
          .describe('Values with their relative weights, e.g. {GET: 90, POST: 10}'),
      ])
      .optional()
      .describe(
        'A fixed set of values to draw from; on a reference field (api_name, pop, request_backend, method, cache_status, resp_status, request_url, elapsed_time...) it replaces what the traffic model draws, and the ground truth counts it',
      ),
    range: z
      .strictObject({
        min: z.number().describe('Smallest value'),
        max: z.number().describe('Largest value'),
      })
      .optional()
      .describe('A number drawn uniformly between min and max (whole numbers for integer fields)'),
  })
  .describe('How `cdnkit simulate` makes up this field\'s value: give either values or range. Without it, built-in fields (the reference names) follow the traffic model and others get a value of their type');

export const fieldSchema = z
  .strictObject({
    name: name('a field name').describe('The key in the error-log JSON and the ILP tag or field key'),
    logKey: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'letters, digits, "_" and "-", starting with a letter')
      .optional()
      .describe('The key in the error-log JSON when it differs from the metric name (fastly_pop vs pop)'),
    type: z.enum(FIELD_TYPES).default('string').describe('Decides JSON quoting, ILP suffix and the Elasticsearch mapping'),
    roles: z
      .array(z.enum(FIELD_ROLES))
      .min(1)
      .describe('Where the value goes: log = error-log JSON, tag = metric tag, field = metric field'),
    kit: z
      .enum(['product', 'environment'])
      .optional()
      .describe('Take the value from the kit-level setting of this name instead of a CDN expression'),
    fastly: z.string().min(1).optional().describe('Fastly VCL expression giving the value in vcl_log'),
    varnish: varnishSource.optional(),
    allowHighCardinality: z
      .boolean()
      .default(false)
      .describe('Silence the warning for a tag whose values are practically unbounded (client IP, URL)'),
    description: z.string().optional(),
    unit: z
      .enum(GRAFANA_UNITS)
      .optional()
      .describe(
        'The Grafana unit of a numeric metric field, on the axes of its panels (ms, s, bytes...); without it, elapsed_time is ms, time_to_first_byte s, and other fields unit-less',
      ),
    simulate: simulateHintSchema.optional(),
  })
  .describe('One piece of CDN log data, declared once');

const topicSchema = z.strictObject({
  name: z.string().regex(TOPIC, 'a Kafka topic name: 1 to 249 of letters, digits, ".", "_" and "-"'),
  partitions: z.int().min(1).max(1000).default(3),
});

const bridgeSchema = (groupId: string, port: number) =>
  z
    .strictObject({
      groupId: z.string().min(1).default(groupId).describe('Kafka consumer group; instances in one group share the partitions'),
      listen: z.string().regex(HOST_PORT, 'host:port').default(`0.0.0.0:${port}`).describe('Where /metrics, /healthz and /readyz are served'),
      maxBatchLines: z.int().min(1).max(100_000).default(5000).describe('Most lines in one write to the sink'),
      maxBatchBytes: z
        .int()
        .min(1024)
        .max(100 * MiB)
        .default(8 * MiB)
        .describe(
          'Most bytes of lines in one write to the sink (a longer single line is written alone): keep it under what the sink accepts in one request (InfluxDB: 25 MB by default, some hosted ones 10 MiB; Elasticsearch: http.max_content_length, 100 MB)',
        ),
      maxHeldLines: z
        .int()
        .min(1)
        .default(60_000)
        .describe(
          'Most lines read from Kafka and not yet committed, over all partitions of one instance: the bound on memory and on reading ahead. At the bound, reading pauses (while the sink is down, consumption stops here). The default lets each of 3 partitions hold a fetched batch while the one before it is written',
        ),
      maxHeldBytes: z
        .int()
        .min(1024)
        .default(64 * MiB)
        .describe('Most bytes of those lines (as decompressed from Kafka), over all partitions of one instance'),
      maxConcurrentWrites: z
        .int()
        .min(1)
        .max(64)
        .default(4)
        .describe('Most requests to the sink in flight at once, over all partitions of one instance (one per partition at most: its lines are written in order)'),
      maxRetryDelayMs: z.int().min(100).default(30_000).describe('Longest wait between retries while the sink is down'),
    })
    .superRefine((settings, ctx) => {
      for (const [held, batch] of [
        ['maxHeldLines', 'maxBatchLines'],
        ['maxHeldBytes', 'maxBatchBytes'],
      ] as const) {
        if (settings[held] < settings[batch]) {
          ctx.addIssue({ code: 'custom', path: [held], message: `${held} must be at least ${batch} (${settings[batch]}): a whole batch has to fit`, input: settings[held] });
        }
      }
    })
    .prefault({});

export const LOG_TYPES = ['logs', 'metrics'] as const;

/**
 * A tenant id travels as the first word of every edge line, into topic, user and consumer-group
 * names: lowercase letters, digits and "-" only, so no id is another's prefix after the "." that
 * follows it (ACLs on group prefixes rely on that).
 */
export const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,47}[a-z0-9])?$/;

export const tenantSchema = z
  .strictObject({
    id: z.string().regex(TENANT_ID, 'a tenant id: 1 to 49 lowercase letters, digits and "-", not starting or ending with "-"'),
    logTypes: z
      .array(z.enum(LOG_TYPES))
      .min(1)
      .default(['logs', 'metrics'])
      .describe('Which streams the tenant gets, each in a topic of its own: logs = error JSON, metrics = line protocol'),
    retentionHours: z.int().min(1).max(24 * 365).default(72).describe("How long Kafka keeps the tenant's lines (retention.ms of their topics)"),
  })
  .describe('One customer: their lines go to their own topics, readable only with their own credentials');

const tenantsSchema = z
  .strictObject({
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]{0,100}$/, 'letters, digits, ".", "_" and "-"')
      .default('tenant.')
      .describe('Topics are <topicPrefix><id>.<logType>, users <topicPrefix><id>, consumer groups start with <topicPrefix><id>.'),
    partitions: z.int().min(1).max(1000).default(3).describe("Partitions of each tenant topic"),
    quarantine: topicSchema.prefault({ name: 'cdn-quarantine', partitions: 1 }).describe('Where an edge line without a known tenant id goes, unchanged'),
    varnish: z
      .string()
      .min(1)
      .default('req.http.X-Cdnkit-Tenant')
      .describe('VCL expression giving the tenant id in vcl_deliver; set it per host in vcl_recv (and overwrite what a client sent)'),
    brokers: z
      .array(z.string().regex(HOST_PORT, 'host:port'))
      .min(1)
      .optional()
      .describe("The SASL listener(s) tenants connect to, written into their bundles; defaults to kafka.brokers"),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe('PEM of the CA that signed the brokers\' certificates: bundles then use SASL_SSL and carry this file; without it, SASL_PLAINTEXT'),
    tablesDir: z
      .string()
      .regex(/^\/[^"'\\\s]*$/, 'an absolute path without quotes, backslashes or spaces')
      .default('/etc/cdnkit/tenants')
      .describe("Folder on the receiver hosts holding the generated tenant tables (receivers/*/<receiver>-tenants-<type>.json): adding a tenant changes only them"),
    list: z.array(tenantSchema).default([]).describe('The tenants'),
  })
  .describe('Serving many customers: per-tenant topics, SCRAM users and ACLs, routing at the edge (cdnkit tenants --help)');

export const kitConfigSchema = z
  .strictObject({
    product: name('product').describe('What the CDN serves; a constant tag and a dashboard title'),
    environment: name('environment').default('prod'),
    cdn: z
      .strictObject({
        flavours: z
          .array(z.enum(CDN_FLAVOURS))
          .min(1)
          .default(['fastly', 'varnish'])
          .describe('Which CDN logging snippets to generate'),
        fastly: z
          .strictObject({
            logsEndpoint: name('a Fastly endpoint name').default('cdn-logs'),
            metricsEndpoint: name('a Fastly endpoint name').default('cdn-metrics'),
          })
          .prefault({})
          .describe('Names of the two syslog logging endpoints in the Fastly service'),
      })
      .prefault({}),
    errors: z
      .strictObject({
        minStatus: z.int().min(100).max(599).default(400).describe('Responses with a status at or above this are logged as JSON'),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        measurement: name('a measurement name').default('cdnmetrics'),
        missingTagValue: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" (it is written unescaped)')
          .default('none')
          .describe('Written instead of an unset or empty tag value, which would make the ILP line invalid'),
      })
      .prefault({}),
    receivers: z
      .strictObject({
        host: z.string().regex(HOST, 'a host name or IP address').default('0.0.0.0').describe('Address the syslog receivers listen on'),
        logsPort: port.default(5140),
        metricsPort: port.default(5141),
      })
      .prefault({}),
    kafka: z
      .strictObject({
        brokers: z.array(z.string().regex(HOST_PORT, 'host:port')).min(1).default(['kafka:9092']),
        tls: kafkaTlsSchema.optional(),
        sasl: kafkaSaslSchema.optional(),
        topics: z
          .strictObject({
            logs: topicSchema.prefault({ name: 'cdn-logs' }),
            metrics: topicSchema.prefault({ name: 'cdn-metrics' }),
            deadLetter: topicSchema.prefault({ name: 'cdn-dead-letter', partitions: 1 }),
          })
          .prefault({}),
        producer: z
          .strictObject({
            compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('gzip'),
            // The reference receivers used acks 0; cdnkit promises nothing lost, so the leader and
            // its in-sync replicas must have the line before the receiver forgets it.
            acks: z.enum(['0', '1', 'all']).default('all'),
            lingerMs: z.int().min(0).default(1000),
            batchMessages: z.int().min(1).default(10_000),
            queueMessages: z.int().min(1).default(250_000),
            retryBackoffMs: z.int().min(0).default(3000),
          })
          .prefault({})
          .describe('How receivers produce to Kafka (defaults: the Transparent Edge tuning)'),
      })
      .prefault({}),
    sinks: z
      .strictObject({
        influxdb: z
          .strictObject({
            url: z.url().default('http://influxdb:8086'),
            org: z.string().min(1).default('cdnkit'),
            bucket: z.string().min(1).default('cdn'),
            tokenEnv: z.string().default('CDNKIT_INFLUX_TOKEN').describe('Environment variable holding the API token'),
          })
          .prefault({}),
        elasticsearch: z
          .strictObject({
            url: z.url().default('http://elasticsearch:9200'),
            indexPrefix: z
              .string()
              .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, "_" and "-"')
              .default('cdn-logs')
              .describe('Error logs go to <prefix>-YYYY.MM.DD, by event time'),
            // Elasticsearch 8 runs with security on: an API key, or a user and password.
            apiKeyEnv: envName('an API key (the base64 "encoded" value of POST /_security/api_key)').optional(),
            usernameEnv: envName('the user for basic auth').optional(),
            passwordEnv: envName('the password for basic auth').optional(),
            caFile: filePath('PEM file of the CA that signed the node\'s HTTP certificate (an https url)').optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    grafana: z
      .strictObject({
        url: z.url().default('http://grafana:3000'),
        folder: z.string().min(1).default('CDN'),
        tokenEnv: z.string().default('CDNKIT_GRAFANA_TOKEN'),
        prometheusUrl: z
          .url()
          .default('http://prometheus:9090')
          .describe("Where Grafana reaches the Prometheus that scrapes the bridges' /metrics (its datasource URL)"),
        slack: z
          .strictObject({
            webhookUrlEnv: z.string().default('CDNKIT_SLACK_WEBHOOK_URL'),
            channel: z.string().optional(),
          })
          .prefault({}),
        alerts: z
          .strictObject({
            evaluationInterval: z.string().regex(DURATION, 'a duration such as 30s, 1m or 5m').default('1m').describe('How often every rule is evaluated'),
            for: z.string().regex(DURATION, 'a duration such as 0s, 2m or 5m').default('2m').describe('How long a condition must hold before the alert fires'),
            window: z.string().regex(DURATION, 'a duration such as 5m').default('5m').describe('The recent window each rule looks at'),
            baseline: z.string().regex(DURATION, 'a duration such as 1h').default('1h').describe('The window before it that baseline rules compare with'),
            minRequests: z.int().min(1).default(100).describe('Ratio rules judge only groups with at least this many requests in the window: a few requests make no ratio'),
            serverErrorRatio: z.number().gt(0).max(1).default(0.05).describe('Fires when 5xx responses exceed this share of requests, per product and per API'),
            errorRatioIncrease: z.number().gt(1).default(3).describe('Fires when the error share is this many times its baseline'),
            trafficDropRatio: z.number().gt(0).lt(1).default(0.5).describe('Fires when requests fall below this fraction of the baseline rate'),
            p99ElapsedMs: z.number().positive().default(2000).describe('Fires when the p99 elapsed time at a POP exceeds this, in ms'),
          })
          .prefault({})
          .describe('Grafana alert rules: thresholds and timing'),
      })
      .prefault({}),
    bridges: z
      .strictObject({
        metrics: bridgeSchema('cdnkit-bridge-metrics', 9464).describe('Kafka metrics topic -> InfluxDB'),
        logs: bridgeSchema('cdnkit-bridge-logs', 9465).describe('Kafka logs topic -> Elasticsearch'),
      })
      .prefault({}),
    tenants: tenantsSchema.optional(),
    fields: z.array(fieldSchema).min(1).describe('Every piece of log data, each declared once'),
  })
  .describe('cdnkit kit config');

export type KitConfigInput = z.input<typeof kitConfigSchema>;
export type KitConfig = z.output<typeof kitConfigSchema>;
export type Field = z.output<typeof fieldSchema>;
export type SimulateHint = z.output<typeof simulateHintSchema>;
export type FieldType = (typeof FIELD_TYPES)[number];
export type CdnFlavour = (typeof CDN_FLAVOURS)[number];
export type Tenant = z.output<typeof tenantSchema>;
export type TenantsConfig = z.output<typeof tenantsSchema>;
export type LogType = (typeof LOG_TYPES)[number];
export type KafkaSecurity = Pick<KitConfig['kafka'], 'tls' | 'sasl'>;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
