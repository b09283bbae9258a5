import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { generateAll } from '../../generators/index.js';
import { logstashPipeline, logstashTenantDictionary } from '../../generators/logstash.js';
import { rsyslogConfig, rsyslogTenantTable } from '../../generators/rsyslog.js';
import { LOG_TYPES } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { tenantAcls } from '../../src/tenants/admin.js';
import { bundleFiles } from '../../src/tenants/bundle.js';
import { tenantNames } from '../../src/tenants/names.js';
import { configErrors, GOOD_FIELDS } from './support/config-problems.js';

const { AclOperationTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const config = (tenants: string) => `product: api
fields:
${GOOD_FIELDS}tenants:
${tenants}`;

const TWO = `  list:
    - id: acme
    - id: globex
      logTypes: [logs]
      retentionHours: 24
`;

describe('tenants in the kit config', () => {
  it('defaults: both log types, 72 h, topics tenant.<id>.<type>, quarantine cdn-quarantine', () => {
    const { config: kit } = parseConfig(config(TWO));
    const tenants = kit.tenants!;
    expect(tenants.list).toEqual([
      { id: 'acme', logTypes: ['logs', 'metrics'], retentionHours: 72 },
      { id: 'globex', logTypes: ['logs'], retentionHours: 24 },
    ]);
    expect(tenants.quarantine.name).toBe('cdn-quarantine');
    expect(tenantNames(tenants, tenants.list[0]!)).toEqual({
      user: 'tenant.acme',
      groupPrefix: 'tenant.acme.',
      topics: { logs: 'tenant.acme.logs', metrics: 'tenant.acme.metrics' },
    });
  });

  it.each([
    ['an id with capitals', `  list:\n    - id: Acme\n`, 'edge.yaml:14:7', 'tenants.list[0].id', /1 to 49 lowercase letters, digits and "-".*\(got "Acme"\)/],
    ['an id with a dot (it would share a group prefix)', `  list:\n    - id: acme.eu\n`, 'edge.yaml:14:7', 'tenants.list[0].id', /lowercase letters, digits and "-"/],
    ['a tenant declared twice', `  list:\n    - id: acme\n    - id: acme\n`, 'edge.yaml:15:7', 'tenants.list[1].id', /"acme" is already declared at tenants.list\[0\]/],
    ['an unknown log type', `  list:\n    - id: acme\n      logTypes: [errors]\n`, 'edge.yaml:15:18', 'tenants.list[0].logTypes[0]', /expected one of "logs", "metrics", got "errors"/],
    ['no retention', `  list:\n    - id: acme\n      retentionHours: 0\n`, 'edge.yaml:15:7', 'tenants.list[0].retentionHours', />=1/],
    ['a tenant topic that is a kit topic', `  list:\n    - id: acme\nkafka:\n  topics:\n    logs: { name: tenant.acme.logs }\n`, 'edge.yaml:14:7', 'tenants.list[0].id', /"acme" would write to "tenant.acme.logs", which is already a kit topic/],
    ['a quarantine that is a kit topic', `  quarantine: { name: cdn-logs }\n`, 'edge.yaml:13:17', 'tenants.quarantine.name', /"cdn-logs" is already a kit topic/],
  ])('refuses %s, naming file, line and key', (_what, tenants, at, key, message) => {
    const [problem, ...others] = configErrors(config(tenants));
    expect(others).toEqual([]);
    expect(`${problem!.file}:${problem!.line}:${problem!.column}`).toBe(at);
    expect(problem!.key).toBe(key);
    expect(problem!.message).toMatch(message);
  });
});

describe('a tenant’s access', () => {
  const { config: kit } = parseConfig(config(TWO));
  const tenants = kit.tenants!;

  it('is read and describe on each of its topics and read on groups of its prefix, nothing else', () => {
    const acls = tenantAcls(tenants, tenants.list[1]!);
    expect(acls).toEqual([
      { principal: 'User:tenant.globex', host: '*', permissionType: 3, operation: AclOperationTypes.READ, resourceType: AclResourceTypes.TOPIC, resourceName: 'tenant.globex.logs', resourcePatternType: ResourcePatternTypes.LITERAL },
      { principal: 'User:tenant.globex', host: '*', permissionType: 3, operation: AclOperationTypes.DESCRIBE, resourceType: AclResourceTypes.TOPIC, resourceName: 'tenant.globex.logs', resourcePatternType: ResourcePatternTypes.LITERAL },
      { principal: 'User:tenant.globex', host: '*', permissionType: 3, operation: AclOperationTypes.READ, resourceType: AclResourceTypes.GROUP, resourceName: 'tenant.globex.', resourcePatternType: ResourcePatternTypes.PREFIXED },
    ]);
  });

  it('the bundle carries the password only in the files marked secret', () => {
    const password = 'pw-that-is-only-in-the-bundle';
    const files = bundleFiles({ config: kit, tenants, tenant: tenants.list[0]!, password });
    expect(files.map((f) => f.path).sort()).toEqual(
      ['README.md', 'brokers.txt', 'client.properties', 'consumer.mjs', 'consumer.py', 'credentials.env', 'filebeat.yml', 'kcat.conf', 'logstash.conf', 'package.json', 'requirements.txt'].sort(),
    );
    for (const file of files) expect(file.content.includes(password)).toBe(file.secret === true);
    for (const file of files.filter((f) => f.secret)) expect(file.content).toContain('tenant.acme');
  });
});

describe('the receivers’ tenant tables', () => {
  const { config: kit } = parseConfig(config(`${TWO}  tablesDir: /srv/cdnkit/tables\n`));
  const tenants = kit.tenants!;

  it('rsyslog and Logstash route by one table: the tenant’s topic, or "/dev/null" for a type it did not ask for', () => {
    expect(JSON.parse(logstashTenantDictionary(tenants, 'metrics'))).toEqual({ acme: 'tenant.acme.metrics', globex: '/dev/null' });
    for (const type of LOG_TYPES) {
      const rsyslog = JSON.parse(rsyslogTenantTable(tenants, type)) as { version: number; nomatch: string; type: string; table: { index: string; value: string }[] };
      expect({ ...rsyslog, table: undefined }).toEqual({ version: 1, nomatch: '', type: 'string', table: undefined });
      expect(Object.fromEntries(rsyslog.table.map((e) => [e.index, e.value]))).toEqual(JSON.parse(logstashTenantDictionary(tenants, type)));
    }
  });

  it('both receivers read them from tenants.tablesDir, and the generated files are exactly those tables', () => {
    const rsyslog = rsyslogConfig(kit);
    expect(rsyslog).toContain('lookup_table(name="cdnkit_logs_tenants" file="/srv/cdnkit/tables/rsyslog-tenants-logs.json" reloadOnHUP="on")');
    expect(rsyslog).toContain('lookup_table(name="cdnkit_metrics_tenants" file="/srv/cdnkit/tables/rsyslog-tenants-metrics.json" reloadOnHUP="on")');
    expect(logstashPipeline(kit, 'metrics')).toContain('dictionary_path => "/srv/cdnkit/tables/logstash-tenants-metrics.json"');
    const files = Object.fromEntries(generateAll(kit).map((a) => [a.path, a.content]));
    for (const type of LOG_TYPES) {
      expect(files[`receivers/rsyslog/rsyslog-tenants-${type}.json`]).toBe(rsyslogTenantTable(tenants, type));
      expect(files[`receivers/logstash/logstash-tenants-${type}.json`]).toBe(logstashTenantDictionary(tenants, type));
    }
  });
});
