// The compose stack's one-shot set-up steps (cdnkit stack setup), run twice against the real Kafka
// and Elasticsearch: the second run changes nothing, so the services are safe to re-run. Kibana has
// no package here: its step is checked for its failure hints, and for real by the smoke test.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { indexTemplate, indexTemplateName } from '../../generators/elasticsearch.js';
import { connectionHint, setupElasticsearchTemplate, setupKafkaTopics, setupKibanaDataView } from '../../src/stack/setup.js';
import { scratchDir } from '../support/scratch.js';
import { eventually } from './support/wait.js';
import { referenceKit } from './support/config.js';

const unique = () => randomUUID().slice(0, 8);

describe('cdnkit stack setup kafka', () => {
  it('creates the configured topics, leaves them on a second run, and grows one that has too few partitions', async () => {
    const id = unique();
    const topics = { logs: { name: `stack-${id}-logs`, partitions: 3 }, metrics: { name: `stack-${id}-metrics`, partitions: 2 }, deadLetter: { name: `stack-${id}-dead`, partitions: 1 } };
    const config = referenceKit({ kafka: { brokers: inject('services').kafka.brokers, topics } });
    const said: string[] = [];
    await setupKafkaTopics(config, (line) => said.push(line));
    expect(said).toEqual([`kafka: created topic stack-${id}-logs (3 partitions)`, `kafka: created topic stack-${id}-metrics (2 partitions)`, `kafka: created topic stack-${id}-dead (1 partitions)`]);

    said.length = 0;
    await setupKafkaTopics(config, (line) => said.push(line));
    expect(said).toEqual(Object.values(topics).map((t) => `kafka: topic ${t.name} exists (${t.partitions} partitions), unchanged`));

    said.length = 0;
    const grown = referenceKit({ kafka: { brokers: inject('services').kafka.brokers, topics: { ...topics, metrics: { ...topics.metrics, partitions: 4 } } } });
    await setupKafkaTopics(grown, (line) => said.push(line));
    expect(said).toContain(`kafka: topic stack-${id}-metrics grown from 2 to 4 partitions`);
    const admin = new kafkajs.Kafka({ brokers: inject('services').kafka.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    // New partitions reach the metadata a broker answers with a moment after the request returns.
    const partitions = async () =>
      Object.fromEntries((await admin.fetchTopicMetadata({ topics: Object.values(topics).map((t) => t.name) })).topics.map((t) => [t.name, t.partitions.length]));
    const wanted = { [topics.logs.name]: 3, [topics.metrics.name]: 4, [topics.deadLetter.name]: 1 };
    await eventually('the grown topic in the metadata', async () => (await partitions())[topics.metrics.name] === 4, 30_000);
    expect(await partitions()).toEqual(wanted);
    await admin.disconnect();
  });

  it('says whether a broker cannot be resolved or not be connected to', async () => {
    await expect(setupKafkaTopics(referenceKit({ kafka: { brokers: ['127.0.0.1:1'] } }), () => {})).rejects.toThrow(
      'kafka topics: cannot connect to 127.0.0.1:1: the service is not listening yet, or on another port',
    );
    await expect(setupKafkaTopics(referenceKit({ kafka: { brokers: ['kafka.invalid:9092'] } }), () => {})).rejects.toThrow(
      'kafka topics: cannot resolve the host of kafka.invalid:9092: is the service running in this compose project (docker compose ps)?',
    );
  });
});

describe('cdnkit stack setup elasticsearch', () => {
  it('installs the generated index template, and a second run replaces it with the same', async () => {
    const url = inject('services').elasticsearch.url;
    const prefix = `stack-${unique()}`;
    const config = referenceKit({ sinks: { influxdb: { url: 'http://127.0.0.1:1', org: 'o', bucket: 'b' }, elasticsearch: { url, indexPrefix: prefix } } });
    const file = join(scratchDir('cdnkit-stack-es-'), 'index-template.json');
    writeFileSync(file, JSON.stringify(indexTemplate(config)));
    const said: string[] = [];
    await setupElasticsearchTemplate(config, file, (line) => said.push(line));
    await setupElasticsearchTemplate(config, file, (line) => said.push(line));
    expect(said).toEqual([`elasticsearch: index template ${prefix} installed from ${file}`, `elasticsearch: index template ${prefix} installed from ${file}`]);
    const found = (await (await fetch(`${url}/_index_template/${indexTemplateName(config)}`)).json()) as { index_templates: { index_template: { index_patterns: string[] } }[] };
    expect(found.index_templates.map((t) => t.index_template.index_patterns)).toEqual([(indexTemplate(config) as { index_patterns: string[] }).index_patterns]);
    await fetch(`${url}/_index_template/${indexTemplateName(config)}`, { method: 'DELETE' });
  });
});

describe('set-up failures say what kind they are', () => {
  it('cannot connect: nothing listens on the port', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, 'close');
    await expect(setupKibanaDataView(referenceKit(), `http://127.0.0.1:${port}`, () => {})).rejects.toThrow(
      `kibana data view: cannot connect to http://127.0.0.1:${port}: the service is not listening yet, or on another port`,
    );
  });

  it('cannot resolve: a host outside the compose project', async () => {
    await expect(setupKibanaDataView(referenceKit(), 'http://kibana.invalid:5601', () => {})).rejects.toThrow('kibana data view: cannot resolve the host of http://kibana.invalid:5601: is the service running in this compose project (docker compose ps)?');
  });

  it('timed out', () => {
    expect(connectionHint('x', 'http://h:1', Object.assign(new Error('t'), { name: 'TimeoutError' })).message).toBe('x: timed out reaching http://h:1: the service is overloaded or a firewall drops the packets');
  });
});
