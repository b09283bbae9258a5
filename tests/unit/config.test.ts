import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { starterConfig } from '../../src/config/init.js';
import { referenceConfig } from '../../src/config/preset.js';
import { kitConfigSchema } from '../../src/config/schema.js';
import { configErrors, GOOD_FIELDS } from './support/config-problems.js';

const minimal = (fields: string, extra = '') => `product: api
${extra}fields:
${fields}`;

describe('kit config', () => {
  it('the starter written by init parses back to the reference preset', () => {
    const { config, warnings } = parseConfig(starterConfig());
    expect(config).toEqual(kitConfigSchema.parse(referenceConfig));
    expect(warnings).toEqual([]);
  });

  it('the reference preset has the exact reference fields', () => {
    const config = kitConfigSchema.parse(referenceConfig);
    const logKeys = config.fields.filter((f) => f.roles.includes('log')).map((f) => f.logKey ?? f.name);
    expect(logKeys.sort()).toEqual(
      ['product', 'x-api-id', 'api_name', 'request_url', 'req_body_read', 'resp_body_written', 'request_backend', 'actual_backend_name',
        'actual_backend_ip', 'client_ip', 'event_timestamp', 'method', 'resp_status', 'resp_message', 'cache_status', 'elapsed_time',
        'fastly_pop', 'fastly_region', 'fastly_server', 'scheme_type', 'fastly_info_state'].sort(),
    );
    const tags = config.fields.filter((f) => f.roles.includes('tag')).map((f) => f.name);
    expect(tags.sort()).toEqual(
      ['product', 'environment', 'cache_status', 'resp_status', 'api_name', 'request_backend', 'actual_backend', 'info_state', 'pop', 'region'].sort(),
    );
    expect(config.fields.filter((f) => f.roles.includes('field')).map((f) => f.name)).toEqual(['elapsed_time', 'time_to_first_byte']);
    expect(config.metrics.measurement).toBe('cdnmetrics');
    expect(config.errors.minStatus).toBe(400);
  });

  // Each broken config must be reported at the right line, naming the key and what is valid.
  it.each([
    {
      why: 'an unknown key, with the valid ones listed',
      text: minimal(GOOD_FIELDS, 'metrcs:\n  measurement: x\n'),
      line: 2, key: 'metrcs', says: 'valid keys here: product, environment',
    },
    {
      why: 'a misspelt role',
      text: minimal(GOOD_FIELDS.replace('roles: [log, tag]', 'roles: [log, tags]')),
      line: 4, key: 'fields[0].roles[1]', says: 'expected one of "log", "tag", "field", got "tags"',
    },
    {
      why: 'a wrong type',
      text: minimal(GOOD_FIELDS, 'errors:\n  minStatus: four hundred\n'),
      line: 3, key: 'errors.minStatus', says: 'expected number, got "four hundred"',
    },
    {
      why: 'a missing required key',
      text: `fields:\n${GOOD_FIELDS}`,
      line: 1, key: 'product', says: 'required string is missing',
    },
    {
      why: 'a name that cannot be a metric key',
      text: minimal(GOOD_FIELDS.replace('name: api_name', 'name: "api name"')),
      line: 3, key: 'fields[0].name', says: 'must start with a letter',
    },
    {
      why: 'a field that is both tag and field',
      text: minimal(GOOD_FIELDS.replace('roles: [log, tag]', 'roles: [tag, field]')),
      line: 4, key: 'fields[0].roles', says: 'cannot be both a metric tag and a metric field',
    },
    {
      why: 'a field declared twice',
      text: minimal(GOOD_FIELDS + GOOD_FIELDS.split('  - name: elapsed_time')[0]),
      line: 12, key: 'fields[2].name', says: 'already declared at fields[0]',
    },
    {
      why: 'a field missing the source for a configured flavour',
      text: minimal(GOOD_FIELDS.replace('    varnish: req.http.API-Name\n', '')),
      line: 3, key: 'fields[0]', says: 'has no "varnish" source',
    },
    {
      why: 'no metric field at all',
      text: minimal(GOOD_FIELDS.replace('roles: [field]', 'roles: [log]')),
      line: 2, key: 'fields', says: 'at least one field needs the role "field"',
    },
    {
      why: 'the reserved key "time"',
      text: minimal(GOOD_FIELDS.replace('name: elapsed_time', 'name: time')),
      line: 7, key: 'fields[1].name', says: 'reserved by InfluxDB',
    },
    {
      why: 'a unit Grafana does not know',
      text: minimal(GOOD_FIELDS.replace('    varnish: { ncsa: "%D" }\n', '    varnish: { ncsa: "%D" }\n    unit: millis\n')),
      line: 12, key: 'fields[1].unit', says: '"ms", "s", "m", "h", "d"',
    },
    {
      why: 'an invalid measurement name',
      text: minimal(GOOD_FIELDS, 'metrics:\n  measurement: "cdn metrics"\n'),
      line: 3, key: 'metrics.measurement', says: 'must start with a letter',
    },
    {
      why: 'a varnishncsa value as a string tag (varnishncsa cannot escape it)',
      text: minimal(GOOD_FIELDS.replace('varnish: req.http.API-Name', 'varnish: { ncsa: "%{API-Name}i" }')),
      line: 6, key: 'fields[0].varnish.ncsa', says: 'cannot make an arbitrary string safe for line protocol',
    },
    {
      why: 'the same topic for two streams',
      text: minimal(GOOD_FIELDS, 'kafka:\n  topics:\n    metrics: { name: cdn-logs }\n'),
      line: 4, key: 'kafka.topics.metrics.name', says: 'also the logs topic',
    },
    {
      why: 'a broker that is not host:port',
      text: minimal(GOOD_FIELDS, 'kafka:\n  brokers: ["{{ evil }}"]\n'),
      line: 3, key: 'kafka.brokers[0]', says: 'host:port',
    },
    {
      why: 'a bridge holding fewer lines than one batch',
      text: minimal(GOOD_FIELDS, 'bridges:\n  logs:\n    maxBatchLines: 5000\n    maxHeldLines: 1000\n'),
      line: 5, key: 'bridges.logs.maxHeldLines', says: 'maxHeldLines must be at least maxBatchLines (5000)',
    },
    {
      why: 'a SASL mechanism Kafka does not have',
      text: minimal(GOOD_FIELDS, 'kafka:\n  sasl: { mechanism: SCRAM-SHA-1, username: cdnkit }\n'),
      line: 3, key: 'kafka.sasl.mechanism', says: 'expected one of "SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", got "SCRAM-SHA-1"',
    },
    {
      why: 'a password written into the config instead of the name of its variable',
      text: minimal(GOOD_FIELDS, 'kafka:\n  sasl:\n    username: cdnkit\n    passwordEnv: "s3cr3t!"\n'),
      line: 5, key: 'kafka.sasl.passwordEnv', says: 'an environment variable name',
    },
    {
      why: 'a relative CA path',
      text: minimal(GOOD_FIELDS, 'kafka:\n  tls:\n    caFile: certs/ca.pem\n'),
      line: 4, key: 'kafka.tls.caFile', says: 'an absolute path',
    },
    {
      why: 'a client key without its certificate',
      text: minimal(GOOD_FIELDS, 'kafka:\n  tls:\n    keyFile: /etc/cdnkit/client.key\n'),
      line: 4, key: 'kafka.tls.keyFile', says: 'a client key needs its certificate',
    },
    {
      why: 'an Elasticsearch API key and basic auth at once',
      text: minimal(GOOD_FIELDS, 'sinks:\n  elasticsearch:\n    apiKeyEnv: ES_API_KEY\n    usernameEnv: ES_USER\n    passwordEnv: ES_PASSWORD\n'),
      line: 5, key: 'sinks.elasticsearch.usernameEnv', says: 'choose one way to authenticate',
    },
    {
      why: 'an Elasticsearch user without a password',
      text: minimal(GOOD_FIELDS, 'sinks:\n  elasticsearch:\n    usernameEnv: ES_USER\n'),
      line: 4, key: 'sinks.elasticsearch.usernameEnv', says: 'basic auth needs passwordEnv too',
    },
    {
      why: 'an Elasticsearch CA file with an http url',
      text: minimal(GOOD_FIELDS, 'sinks:\n  elasticsearch:\n    url: http://es:9200\n    caFile: /etc/cdnkit/es-ca.pem\n'),
      line: 5, key: 'sinks.elasticsearch.caFile', says: 'use an https:// url',
    },
    {
      why: 'YAML that does not parse',
      text: 'product: api\nfields: [\n',
      line: 3, key: '', says: 'YAML:',
    },
  ])('refuses $why', ({ text, line, key, says }) => {
    const problems = configErrors(text);
    const match = problems.find((p) => p.key === key);
    expect(match, `no problem for key ${key}; got ${JSON.stringify(problems)}`).toBeDefined();
    expect(match!.file).toBe('edge.yaml');
    expect(match!.line).toBe(line);
    expect(match!.message).toContain(says);
  });

  it('warns on a high-cardinality tag unless it is explicitly allowed', () => {
    const tagged = GOOD_FIELDS + `  - name: client_ip
    type: ip
    roles: [tag]
    fastly: client.ip
    varnish: client.ip
`;
    const { warnings } = parseConfig(minimal(tagged), 'edge.yaml');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ line: 14, key: 'fields[2].roles', severity: 'warning' });
    expect(warnings[0]!.message).toContain('high-cardinality');
    const allowed = parseConfig(minimal(tagged.replace('    roles: [tag]\n', '    roles: [tag]\n    allowHighCardinality: true\n')));
    expect(allowed.warnings).toEqual([]);
  });

  it('warns on SASL PLAIN without TLS, and accepts a complete secured config', () => {
    const plain = parseConfig(minimal(GOOD_FIELDS, 'kafka:\n  sasl: { mechanism: PLAIN, username: cdnkit }\n'), 'edge.yaml');
    expect(plain.warnings).toMatchObject([{ line: 3, key: 'kafka.sasl.mechanism', severity: 'warning' }]);
    expect(plain.warnings[0]!.message).toContain('in the clear');
    const secured = parseConfig(
      minimal(
        GOOD_FIELDS,
        'kafka:\n  tls: { caFile: /etc/cdnkit/ca.pem, certFile: /etc/cdnkit/client.pem }\n  sasl: { mechanism: PLAIN, username: cdnkit }\n' +
          'sinks:\n  elasticsearch: { url: "https://es:9200", apiKeyEnv: ES_API_KEY, caFile: /etc/cdnkit/es-ca.pem }\n',
      ),
    );
    expect(secured.warnings).toEqual([]);
    expect(secured.config.kafka.sasl).toEqual({ mechanism: 'PLAIN', username: 'cdnkit', passwordEnv: 'CDNKIT_KAFKA_PASSWORD' });
  });
});
