// The generated rsyslog receiver, run by the real rsyslogd: it must pass rsyslogd's own config
// check, and, live, forward each line it receives on a port to that port's Kafka topic unchanged.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { rsyslogConfig } from '../../generators/rsyslog.js';
import { referenceKit } from './support/config.js';
import { freshTopics, readTopic } from './support/kafka.js';
import { freePort, runCommand } from '../../src/local/process.js';
import { sendLines, startRsyslog } from './support/rsyslog.js';
import { scratchDir } from '../support/scratch.js';



function writeConfig(text: string): string {
  const file = join(scratchDir('cdnkit-rsyslog-'), 'cdnkit.conf');
  writeFileSync(file, text);
  return file;
}

async function checkConfig(file: string): Promise<{ ok: boolean; output: string }> {
  const { code, stdout, stderr } = await runCommand(inject('tools').rsyslogd, ['-N1', '-f', file], { timeoutMs: 30_000 });
  return { ok: code === 0, output: stdout + stderr };
}

describe('rsyslog receiver', () => {
  it('rsyslogd -N1 accepts the generated config', async () => {
    const result = await checkConfig(writeConfig(rsyslogConfig(referenceKit())));
    expect(result.output).toContain('End of config validation run');
    expect(result.ok, result.output).toBe(true);
  });

  it('rsyslogd -N1 accepts the generated config for a secured Kafka, which holds no secret', async () => {
    const config = referenceKit({
      kafka: {
        brokers: ['k1:9094'],
        tls: { caFile: '/etc/cdnkit/kafka-ca.pem', certFile: '/etc/cdnkit/receiver.pem', keyFile: '/etc/cdnkit/receiver.key', keyPassphraseEnv: 'RECEIVER_KEY_PASSPHRASE' },
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'receiver', passwordEnv: 'RECEIVER_KAFKA_PASSWORD' },
      },
    });
    const text = rsyslogConfig(config);
    expect(text).toContain('"security.protocol=SASL_SSL", "ssl.ca.location=/etc/cdnkit/kafka-ca.pem"');
    expect(text).toContain('`echo ssl.key.password=$RECEIVER_KEY_PASSPHRASE`');
    expect(text).toContain('"sasl.mechanisms=SCRAM-SHA-512", "sasl.username=receiver", `echo sasl.password=$RECEIVER_KAFKA_PASSWORD`');
    const result = await checkConfig(writeConfig(text));
    expect(result.output).toContain('End of config validation run');
    expect(result.ok, result.output).toBe(true);
  });

  it('rsyslogd -N1 really checks: a config with a misspelt omkafka parameter is refused', async () => {
    const broken = rsyslogConfig(referenceKit()).replace('partitions.auto="on"', 'partitions.automatic="on"');
    const result = await checkConfig(writeConfig(broken));
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/partitions\.automatic/);
  });

  describe('live, into the real Kafka', () => {
    const stops: Array<() => Promise<void>> = [];
    afterAll(() => Promise.all(stops.map((stop) => stop())));

    it('forwards every line from each port to its topic byte for byte, with or without a syslog header', async () => {
      const topics = await freshTopics(['logs', 'metrics'] as const);
      const [logsPort, metricsPort] = [await freePort(), await freePort()];
      const config = referenceKit({
        receivers: { host: '127.0.0.1', logsPort, metricsPort },
        kafka: { brokers: inject('services').kafka.brokers, topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics } }, producer: { lingerMs: 10 } },
      });
      const daemon = await startRsyslog(config);
      stops.push(() => daemon.stop());

      const json = '{"api_name":"orders \\"v2\\"","resp_status":503,"note":"ünïcödé, tab\\t"}';
      const ilp = 'cdnmetrics,product=api,api_name=orders_v2 elapsed_time=12i,time_to_first_byte=0.004 1522670899146991000';
      const classic = `<134>1 2026-11-21T03:44:11Z cache-mdw1 fastly - - - ${ilp}`;
      await sendLines(logsPort, [json]);
      await sendLines(metricsPort, [ilp, classic]);

      expect(await readTopic(topics.logs, 1)).toEqual([json]);
      expect((await readTopic(topics.metrics, 2)).sort()).toEqual([ilp, classic].sort());
    });
  });
});
