// Rules that span several keys, which a schema cannot say: each field has a source for every CDN
// flavour, names do not collide, and metric tags stay low-cardinality.
import type { Field, KitConfig } from './schema.js';
import type { ConfigPath, Severity } from './load.js';
import { logKeyOf } from './model.js';
import { tenantNames } from '../tenants/names.js';

export interface Check {
  severity: Severity;
  path: ConfigPath;
  message: string;
}

/** ILP keys InfluxDB refuses outright ("time" is the timestamp column in InfluxQL). */
const RESERVED_METRIC_KEYS = new Set(['time']);

/** Sources and names whose values are practically unbounded: fine in logs, a disaster as tags. */
const UNBOUNDED_SOURCES = [/\bclient\.ip\b/i, /\breq\.url\b/i, /\bbereq\.url\b/i, /user-agent/i, /request-id/i, /%[hrUq]\b/];
const UNBOUNDED_NAMES = /(^|[_-])(ip|url|uri|path|query|user_agent|useragent|request_id|timestamp|time)$/i;

/** varnishncsa values that can only ever be line-protocol-safe tokens (status, method, handling). */
export const NCSA_SAFE_TAGS = new Set(['%s', '%m', '%H', '%{Varnish:handling}x', '%{Varnish:side}x']);

export function checkConfig(config: KitConfig): Check[] {
  const checks: Check[] = [];
  const add = (severity: Severity, path: ConfigPath, message: string) => checks.push({ severity, path, message });

  const seen = new Map<string, number>();
  const seenLogKeys = new Map<string, number>();
  config.fields.forEach((field, i) => {
    const at = ['fields', i] as const;
    const earlier = seen.get(field.name);
    if (earlier !== undefined) {
      add('error', [...at, 'name'], `"${field.name}" is already declared at fields[${earlier}]; declare each field once and list all its roles`);
    }
    seen.set(field.name, i);
    if (field.roles.includes('log')) {
      const key = logKeyOf(field);
      const other = seenLogKeys.get(key);
      if (other !== undefined) add('error', [...at, field.logKey ? 'logKey' : 'name'], `the error-log key "${key}" is already used by fields[${other}]`);
      seenLogKeys.set(key, i);
    }

    const roles = new Set(field.roles);
    if (roles.size !== field.roles.length) add('error', [...at, 'roles'], 'a role is listed twice');
    if (roles.has('tag') && roles.has('field')) {
      add('error', [...at, 'roles'], `"${field.name}" cannot be both a metric tag and a metric field: InfluxDB would see the same key twice; keep one of "tag" or "field"`);
    }
    if ((roles.has('tag') || roles.has('field')) && RESERVED_METRIC_KEYS.has(field.name)) {
      add('error', [...at, 'name'], `"${field.name}" is reserved by InfluxDB and cannot be a tag or field key; rename it`);
    }
    checkSources(field, config, (path, message) => add('error', [...at, ...path], message));
    checkSimulateHint(field, (path, message) => add('error', [...at, 'simulate', ...path], message));
    if (roles.has('tag') && !field.allowHighCardinality && isUnbounded(field)) {
      add(
        'warning',
        [...at, 'roles'],
        `"${field.name}" looks high-cardinality (every distinct value makes a new InfluxDB series); keep it in "log" only, or set allowHighCardinality: true`,
      );
    }
  });

  if (!config.fields.some((f) => f.roles.includes('field'))) {
    add('error', ['fields'], 'at least one field needs the role "field": an ILP line without a field is invalid');
  }
  if (!config.fields.some((f) => f.roles.includes('log'))) {
    add('warning', ['fields'], 'no field has the role "log": error logs would be empty JSON objects');
  }

  const topics = config.kafka.topics;
  const topicNames = Object.entries(topics).map(([role, t]) => [role, t.name] as const);
  topicNames.forEach(([role, topic], i) => {
    const clash = topicNames.slice(0, i).find(([, other]) => other === topic);
    if (clash) add('error', ['kafka', 'topics', role, 'name'], `topic "${topic}" is also the ${clash[0]} topic; each stream needs its own`);
  });
  if (config.tenants) checkTenants(config, topicNames.map(([, topic]) => topic), add);
  if (config.receivers.logsPort === config.receivers.metricsPort) {
    add('error', ['receivers', 'metricsPort'], 'logs and metrics receivers need different ports (the port tells them apart)');
  }
  checkSecurity(config, add);
  return checks;
}

/** The security keys that only make sense together. */
function checkSecurity(config: KitConfig, add: (severity: Severity, path: ConfigPath, message: string) => void): void {
  const { tls, sasl } = config.kafka;
  if (tls?.keyFile !== undefined && tls.certFile === undefined) {
    add('error', ['kafka', 'tls', 'keyFile'], 'a client key needs its certificate: add certFile (or remove keyFile)');
  }
  if (tls?.keyPassphraseEnv !== undefined && tls.certFile === undefined) {
    add('error', ['kafka', 'tls', 'keyPassphraseEnv'], 'a key passphrase needs a client key: add certFile (and keyFile), or remove keyPassphraseEnv');
  }
  if (tls?.keyFile !== undefined && tls.certFile !== undefined && tls.keyFile !== tls.certFile) {
    add(
      'warning',
      ['kafka', 'tls', 'keyFile'],
      "Logstash's Kafka client reads the client key and certificate from one PEM file: the generated Logstash pipelines use certFile for both; to run them, put the key into certFile",
    );
  }
  if (sasl?.mechanism === 'PLAIN' && tls === undefined) {
    add('warning', ['kafka', 'sasl', 'mechanism'], 'PLAIN sends the password in the clear without TLS: add kafka.tls, or use SCRAM-SHA-512');
  }
  const es = config.sinks.elasticsearch;
  const at = (key: string): ConfigPath => ['sinks', 'elasticsearch', key];
  if (es.apiKeyEnv !== undefined && es.usernameEnv !== undefined) {
    add('error', at('usernameEnv'), 'choose one way to authenticate to Elasticsearch: apiKeyEnv, or usernameEnv with passwordEnv');
  }
  if (es.usernameEnv !== undefined && es.passwordEnv === undefined) add('error', at('usernameEnv'), 'basic auth needs passwordEnv too');
  if (es.passwordEnv !== undefined && es.usernameEnv === undefined) add('error', at('passwordEnv'), 'basic auth needs usernameEnv too');
  if (es.caFile !== undefined && !es.url.startsWith('https:')) {
    add('error', at('caFile'), `a CA file is for TLS, but url is ${es.url}: use an https:// url, or remove caFile`);
  }
}

function checkSources(field: Field, config: KitConfig, add: (path: ConfigPath, message: string) => void): void {
  if (field.kit) {
    if (field.fastly !== undefined) add(['fastly'], `a field with kit: ${field.kit} takes its value from the kit config; remove "fastly"`);
    if (field.varnish !== undefined) add(['varnish'], `a field with kit: ${field.kit} takes its value from the kit config; remove "varnish"`);
    if (field.type !== 'string') add(['type'], `a field with kit: ${field.kit} is a string`);
    return;
  }
  for (const flavour of config.cdn.flavours) {
    if (field[flavour] === undefined) {
      add([], `"${field.name}" has no "${flavour}" source, and cdn.flavours includes ${flavour}; add ${flavour}: <expression>, or kit: product|environment`);
    }
  }
  const varnish = field.varnish;
  const numeric = field.type === 'integer' || field.type === 'float' || field.type === 'boolean';
  if (varnish && typeof varnish === 'object' && 'ncsa' in varnish && field.roles.includes('tag') && !numeric && !NCSA_SAFE_TAGS.has(varnish.ncsa)) {
    add(
      ['varnish', 'ncsa'],
      `varnishncsa cannot make an arbitrary string safe for line protocol; give this tag a VCL expression ({vcl: …}), or use one of ${[...NCSA_SAFE_TAGS].join(' ')}`,
    );
  }
}

function isUnbounded(field: Field): boolean {
  if (field.type === 'ip' || field.type === 'timestamp' || field.type === 'float') return true;
  if (UNBOUNDED_NAMES.test(field.name)) return true;
  const varnish = field.varnish;
  const sources = [field.fastly, typeof varnish === 'string' ? varnish : varnish && ('vcl' in varnish ? varnish.vcl : varnish.ncsa)];
  return sources.some((s) => s !== undefined && UNBOUNDED_SOURCES.some((re) => re.test(s)));
}

/** A `simulate` hint must give values its field's type can hold. */
function checkSimulateHint(field: Field, add: (path: ConfigPath, message: string) => void): void {
  const hint = field.simulate;
  if (!hint) return;
  if (field.kit) add([], `a field with kit: ${field.kit} always has the kit's value; remove "simulate"`);
  if ((hint.values === undefined) === (hint.range === undefined)) add([], 'give either "values" or "range"');
  const numeric = field.type === 'integer' || field.type === 'float';
  if (hint.range) {
    if (!numeric) add(['range'], `a range needs an integer or float field; "${field.name}" is ${field.type}: use "values"`);
    if (hint.range.min > hint.range.max) add(['range'], `min ${hint.range.min} is above max ${hint.range.max}`);
  }
  const values = hint.values === undefined ? [] : Array.isArray(hint.values) ? hint.values.map(String) : Object.keys(hint.values);
  const valid: Partial<Record<Field['type'], [RegExp, string]>> = {
    integer: [/^-?\d{1,15}$/, 'whole numbers'],
    float: [/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i, 'numbers'],
    boolean: [/^(true|false)$/, 'true or false'],
  };
  const rule = valid[field.type];
  const wrong = rule ? values.filter((v) => !rule[0].test(v)) : [];
  if (rule && wrong.length > 0) add(['values'], `"${field.name}" is ${field.type}, so its values must be ${rule[1]}; got ${wrong.map((v) => JSON.stringify(v)).join(', ')}`);
}

/** Tenant ids are unique, and no tenant topic is one of the kit's own (the bridges read those). */
function checkTenants(config: KitConfig, kitTopics: string[], add: (severity: Severity, path: ConfigPath, message: string) => void): void {
  const tenants = config.tenants!;
  const seen = new Map<string, number>();
  tenants.list.forEach((tenant, i) => {
    const earlier = seen.get(tenant.id);
    if (earlier !== undefined) add('error', ['tenants', 'list', i, 'id'], `tenant "${tenant.id}" is already declared at tenants.list[${earlier}]`);
    seen.set(tenant.id, i);
    if (new Set(tenant.logTypes).size !== tenant.logTypes.length) add('error', ['tenants', 'list', i, 'logTypes'], 'a log type is listed twice');
    for (const topic of Object.values(tenantNames(tenants, tenant).topics)) {
      if (kitTopics.includes(topic) || topic === tenants.quarantine.name) {
        add('error', ['tenants', 'list', i, 'id'], `tenant "${tenant.id}" would write to "${topic}", which is already a kit topic; change tenants.topicPrefix or the id`);
      }
    }
  });
  if (kitTopics.includes(tenants.quarantine.name)) {
    add('error', ['tenants', 'quarantine', 'name'], `the quarantine topic "${tenants.quarantine.name}" is already a kit topic; lines without a tenant need their own`);
  }
}
