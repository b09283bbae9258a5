// compose/test.yml is how developers with Docker get the servers the harness otherwise starts itself,
// so it must stay valid Compose and agree with the harness on versions, ports and InfluxDB set-up.
// No Docker engine runs here, but the real docker compose's `config` needs none: it validates the
// file against the Compose schema and prints the model `up` would run, which is checked below.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { runCommand, type RunResult } from '../../src/local/process.js';
import { DEFAULT_ELASTICSEARCH_URL, ELASTICSEARCH_VERSION } from '../../src/local/services/elasticsearch.js';
import { DEFAULT_INFLUX_IDENTITY, DEFAULT_INFLUX_URL, INFLUXD_VERSION } from '../../src/local/services/influxdb.js';
import { DEFAULT_KAFKA_BROKERS, KAFKA_VERSION } from '../../src/local/services/kafka.js';

const COMPOSE_FILE = fileURLToPath(new URL('../../compose/test.yml', import.meta.url));

interface ComposeService {
  image: string;
  ports: { host_ip: string; published: string }[];
  environment: Record<string, string>;
}

function composeConfig(file: string): Promise<RunResult> {
  return runCommand(inject('tools').dockerCompose, ['-f', file, 'config', '--format', 'json'], { timeoutMs: 30_000 });
}

describe('compose/test.yml, as docker compose reads it', () => {
  it('is valid and runs the harness servers at their pinned versions, default addresses and InfluxDB set-up', async () => {
    const result = await composeConfig(COMPOSE_FILE);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const services: Record<string, ComposeService> = JSON.parse(result.stdout).services;

    expect(Object.keys(services).sort()).toEqual(['elasticsearch', 'influxdb', 'kafka']);
    expect(services.kafka!.image).toBe(`apache/kafka:${KAFKA_VERSION}`);
    expect(services.elasticsearch!.image).toBe(`docker.elastic.co/elasticsearch/elasticsearch:${ELASTICSEARCH_VERSION}`);
    expect(services.influxdb!.image).toBe(`influxdb:${INFLUXD_VERSION.replace(/^v/, '')}`);

    const published = (name: string) => services[name]!.ports.map((p) => `${p.host_ip}:${p.published}`);
    expect(published('kafka')).toEqual([DEFAULT_KAFKA_BROKERS]);
    expect(published('elasticsearch')).toEqual([new URL(DEFAULT_ELASTICSEARCH_URL).host]);
    expect(published('influxdb')).toEqual([new URL(DEFAULT_INFLUX_URL).host]);

    const influxEnv = services.influxdb!.environment;
    expect({
      org: influxEnv.DOCKER_INFLUXDB_INIT_ORG,
      bucket: influxEnv.DOCKER_INFLUXDB_INIT_BUCKET,
      token: influxEnv.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN,
    }).toEqual(DEFAULT_INFLUX_IDENTITY);
  });

  // Proves the check above is docker compose validating, not just parsing YAML.
  it.each([
    ['a port list that is a number', (yml: string) => yml.replace(/ports: \[.*19092.*\]/, 'ports: 5'), /services\.kafka\.ports must be a array/],
    ['an unknown top-level key', (yml: string) => `${yml}\nvolume: {}\n`, /additional properties 'volume' not allowed/],
  ])('refuses a copy with %s, naming the problem', async (_, breakIt, error) => {
    const dir = mkdtempSync(join(tmpdir(), 'cdnkit-compose-'));
    writeFileSync(join(dir, 'test.yml'), breakIt(readFileSync(COMPOSE_FILE, 'utf8')));
    const result = await composeConfig(join(dir, 'test.yml'));
    rmSync(dir, { recursive: true, force: true });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(error);
  });
});
