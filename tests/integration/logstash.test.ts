// The consul-template file must render, for each log type, to exactly the plain Logstash pipeline
// of that type: consul-template itself renders it here. (Logstash has no package on the registries
// this project can reach: not on Maven Central (no org.logstash or co.elastic.logstash artifacts), no
// Debian package, and its gems are on RubyGems; it runs in the compose stack.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { LOG_TYPE_ENV, logstashConsulTemplate, logstashPipeline, type LogType } from '../../generators/logstash.js';
import { NOT_SUBSCRIBED, tenantTableFile } from '../../src/tenants/names.js';
import { mustRun } from '../../src/local/process.js';
import { referenceKit } from './support/config.js';
import { scratchDir } from '../support/scratch.js';


async function renderWithConsulTemplate(template: string, logType: string): Promise<string> {
  const dir = scratchDir('cdnkit-ctmpl-');
  const input = join(dir, 'receiver.conf.ctmpl');
  const output = join(dir, 'receiver.conf');
  writeFileSync(input, template);
  // -once: render and exit. The template reads only the environment, so no Consul is contacted.
  await mustRun(inject('tools').consulTemplate, ['-once', '-template', `${input}:${output}`], {
    env: { ...process.env, [LOG_TYPE_ENV]: logType },
    timeoutMs: 30_000,
  });
  return readFileSync(output, 'utf8');
}

describe('Logstash receivers', () => {
  const configs = {
    reference: referenceKit(),
    custom: referenceKit({
      receivers: { host: '10.1.2.3', logsPort: 6514, metricsPort: 6515 },
      kafka: { brokers: ['k1:9092', 'k2:9092'], topics: { logs: { name: 'edge.errors' }, metrics: { name: 'edge.metrics' } }, producer: { acks: '1', compression: 'zstd' } },
    }),
    secured: referenceKit({
      kafka: {
        brokers: ['k1:9094'],
        tls: { caFile: '/etc/cdnkit/kafka-ca.pem', certFile: '/etc/cdnkit/receiver.pem', keyPassphraseEnv: 'RECEIVER_KEY_PASSPHRASE' },
        sasl: { mechanism: 'SCRAM-SHA-256', username: 'receiver', passwordEnv: 'RECEIVER_KAFKA_PASSWORD' },
      },
    }),
    tenants: referenceKit({
      kafka: { brokers: ['k1:9094'], sasl: { mechanism: 'SCRAM-SHA-512', username: 'receiver', passwordEnv: 'RECEIVER_KAFKA_PASSWORD' } },
      tenants: { tablesDir: '/etc/cdnkit/tables', quarantine: { name: 'edge.quarantine', partitions: 1 }, list: [{ id: 'acme' }, { id: 'globex', logTypes: ['logs'] }] },
    }),
  };

  for (const [name, config] of Object.entries(configs)) {
    for (const logType of ['logs', 'metrics'] as LogType[]) {
      it(`consul-template renders the ${name} template with ${LOG_TYPE_ENV}=${logType} to the plain ${logType} pipeline`, async () => {
        const rendered = await renderWithConsulTemplate(logstashConsulTemplate(config), logType);
        expect(rendered).toBe(logstashPipeline(config, logType));
      });
    }
  }

  it('the plain pipelines route each type to its own topic and port', () => {
    const config = configs.custom;
    const logs = logstashPipeline(config, 'logs');
    const metrics = logstashPipeline(config, 'metrics');
    expect(logs).toContain('topic_id => "edge.errors"');
    expect(logs).toContain('port => 6514');
    expect(logs).toContain('codec => json');
    expect(metrics).toContain('topic_id => "edge.metrics"');
    expect(metrics).toContain('port => 6515');
    expect(metrics).toContain('format => "%{message}"');
    expect(metrics).toContain('bootstrap_servers => "k1:9092,k2:9092"');
    expect(metrics).toContain('compression_type => "zstd"');
  });

  it('with tenants: the id split off, its topic looked up in the shared table, unknown ids whole to quarantine', () => {
    const config = configs.tenants;
    for (const logType of ['logs', 'metrics'] as LogType[]) {
      const pipeline = logstashPipeline(config, logType);
      // The line stays text (no JSON decoding) so the rest of it goes on byte for byte, as rsyslog sends it.
      expect(pipeline).toContain('codec => plain\n    type =>');
      expect(pipeline).toContain('"message" => "%{[@metadata][tenant]} %{[@metadata][line]}"');
      expect(pipeline).toContain(`dictionary_path => "/etc/cdnkit/tables/${tenantTableFile('logstash', logType)}"`);
      expect(pipeline).toContain(`if [@metadata][topic] == ${JSON.stringify(NOT_SUBSCRIBED)} {\n    drop {}`);
      const [tenantOutput, quarantineOutput] = pipeline.slice(pipeline.indexOf('output {')).split('} else {');
      expect(tenantOutput).toContain('topic_id => "%{[@metadata][topic]}"');
      expect(tenantOutput).toContain('format => "%{[@metadata][line]}"');
      expect(quarantineOutput).toContain('topic_id => "edge.quarantine"');
      expect(quarantineOutput).toContain('format => "%{message}"');
      // Both outputs produce with the same security and tuning.
      for (const output of [tenantOutput, quarantineOutput]) {
        expect(output).toContain('sasl_mechanism => "SCRAM-SHA-512"');
        expect(output).toContain('linger_ms => 1000');
      }
    }
  });

  it('a secured Kafka: TLS from PEM files and SASL, the secrets left to Logstash to read from the environment', () => {
    for (const logType of ['logs', 'metrics'] as LogType[]) {
      const pipeline = logstashPipeline(configs.secured, logType);
      expect(pipeline).toContain('security_protocol => "SASL_SSL"');
      expect(pipeline).toContain('ssl_truststore_type => "PEM"');
      expect(pipeline).toContain('ssl_truststore_location => "/etc/cdnkit/kafka-ca.pem"');
      expect(pipeline).toContain('ssl_keystore_location => "/etc/cdnkit/receiver.pem"');
      expect(pipeline).toContain('ssl_key_password => "${RECEIVER_KEY_PASSPHRASE}"');
      expect(pipeline).toContain('sasl_mechanism => "SCRAM-SHA-256"');
      expect(pipeline).toContain(
        `sasl_jaas_config => "org.apache.kafka.common.security.scram.ScramLoginModule required username='receiver' password='\${RECEIVER_KAFKA_PASSWORD}';"`,
      );
    }
    expect(logstashPipeline(configs.reference, 'logs')).not.toMatch(/security_protocol|sasl_|ssl_/);
  });
});
