// compose/compose.yaml, the whole stack, checked here without a Docker engine: the real docker
// compose validates it (`config`) for every profile with a .env written by `cdnkit stack init`,
// and the model it prints is held to the stack's rules: pinned images, files that exist, variables
// that are documented, health checks and ordered start-up. The run itself is the smoke test's
// (npm run stack:smoke, on machines with Docker).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { freePort, runCommand, type RunResult } from '../../src/local/process.js';
import { startPrometheus } from '../../src/local/prometheus.js';
import { parseEnvExample, STACK_ADDRESSES } from '../../src/stack/env-file.js';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_DIR = join(ROOT, 'compose');
const STACK_FILE = join(COMPOSE_DIR, 'compose.yaml');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const EXAMPLE_CONFIG = join(ROOT, 'cdnkit.example.yaml');
const PROFILES = [[], ['demo'], ['rsyslog']];

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  profiles?: string[];
  command?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  volumes?: { type: string; source: string; target: string; read_only?: boolean; bind?: { create_host_path?: boolean } }[];
  ports?: { published: string; target: number; host_ip?: string }[];
  environment?: Record<string, string>;
}

const raw = readFileSync(STACK_FILE, 'utf8');
const exampleVariables = parseEnvExample(readFileSync(join(COMPOSE_DIR, '.env.example'), 'utf8'));
const withoutHealthcheck = (parse(raw) as { 'x-without-healthcheck': Record<string, string> })['x-without-healthcheck'];

function cli(args: string[]): Promise<RunResult> {
  return runCommand(process.execPath, [CLI, ...args], { timeoutMs: 60_000 });
}

function composeConfig(envFile: string, profiles: string[]): Promise<RunResult> {
  const args = ['-f', STACK_FILE, '--env-file', envFile, ...profiles.flatMap((p) => ['--profile', p]), 'config', '--format', 'json'];
  return runCommand(inject('tools').dockerCompose, args, { timeoutMs: 30_000 });
}

let envFile: string;
let generated: string;
/** Every service of every profile, as docker compose resolved it. */
const services: Record<string, Service> = {};

beforeAll(async () => {
  const dir = scratchDir('cdnkit-stack-');
  generated = join(dir, 'generated');
  envFile = join(dir, '.env');
  const generate = await cli(['generate', '-c', EXAMPLE_CONFIG, '-o', generated]);
  expect(generate.code, generate.stderr).toBe(0);
  const init = await cli(['stack', 'init', '-c', EXAMPLE_CONFIG, '--dir', COMPOSE_DIR, '--generated', generated, '--output', envFile]);
  expect(init.code, init.stderr).toBe(0);
  for (const profiles of PROFILES) {
    const result = await composeConfig(envFile, profiles);
    expect(result.stderr, `profiles [${profiles.join(', ')}]`).toBe('');
    expect(result.code).toBe(0);
    Object.assign(services, (JSON.parse(result.stdout) as { services: Record<string, Service> }).services);
  }
});

describe('compose/compose.yaml, as docker compose reads it', () => {
  it('is valid for every profile and runs the whole pipeline', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'bridge-logs', 'bridge-metrics', 'elasticsearch', 'elasticsearch-setup', 'grafana', 'influxdb', 'kafka', 'kafka-setup', 'kibana', 'kibana-setup',
        'logstash-logs', 'logstash-metrics', 'prometheus', 'rsyslog', 'simulator', 'webhook-sink',
      ].sort(),
    );
    expect(services.simulator!.profiles).toEqual(['demo']);
    expect(services['webhook-sink']!.profiles).toEqual(['demo']);
    expect(services.rsyslog!.profiles).toEqual(['rsyslog']);
  });

  it('pins every image by a version tag; built images are named with a version too', () => {
    for (const [name, service] of Object.entries(services)) {
      const tag = /:([^:/]+)$/.exec(service.image ?? '')?.[1];
      expect(tag, `${name}: ${service.image}`).toMatch(/^v?\d+\.\d+(\.\d+)?/);
    }
    // One version of the Elastic stack, as the three must agree.
    const elastic = ['elasticsearch', 'kibana', 'logstash-logs', 'logstash-metrics'].map((s) => services[s]!.image!.split(':')[1]);
    expect(new Set(elastic).size).toBe(1);
  });

  it('mounts only files that exist after cdnkit generate (or are in compose/), generated ones read-only and never created', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of (service.volumes ?? []).filter((v) => v.type === 'bind')) {
        expect(existsSync(volume.source), `${name}: ${volume.source}`).toBe(true);
        expect(volume.read_only, `${name}: ${volume.target}`).toBe(true);
        if (volume.source.startsWith(generated)) expect(volume.bind?.create_host_path, `${name}: ${volume.source}`).toBe(false);
      }
    }
    const mounted = (service: string, target: string) => services[service]!.volumes!.find((v) => v.target === target)!.source;
    expect(statSync(mounted('grafana', '/etc/grafana/provisioning')).isDirectory()).toBe(true);
    for (const kind of ['datasources', 'dashboards', 'alerting']) expect(existsSync(join(mounted('grafana', '/etc/grafana/provisioning'), kind, 'cdnkit.yaml'))).toBe(true);
    expect(mounted('logstash-logs', '/usr/share/logstash/pipeline/logstash.conf')).toMatch(/receivers\/logstash\/cdn-logs\.conf$/);
    expect(mounted('logstash-metrics', '/usr/share/logstash/pipeline/logstash.conf')).toMatch(/receivers\/logstash\/cdn-metrics\.conf$/);
  });

  it('uses only variables .env.example documents, and .env.example lists none it does not use', () => {
    const used = new Set([...raw.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
    const documented = new Set(exampleVariables.map((v) => v.name));
    expect([...used].filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !used.has(v))).toEqual([]);
    for (const variable of exampleVariables) expect(variable.comments.join(' '), variable.name).toMatch(/Used by: /);
  });

  it('has no default for a secret: with .env.example as it is, compose refuses and names each secret', async () => {
    const result = await composeConfig(join(COMPOSE_DIR, '.env.example'), ['demo']);
    expect(result.code).not.toBe(0);
    const secrets = exampleVariables.filter((v) => v.secret).map((v) => v.name);
    expect(secrets.sort()).toEqual(['CDNKIT_INFLUX_TOKEN', 'GRAFANA_ADMIN_PASSWORD', 'INFLUXDB_ADMIN_PASSWORD']);
    for (const name of secrets) expect(result.stderr).toContain(`required variable ${name} is missing a value: set ${name}`);
  });

  it('gives every service a health check, except the one-shots and the simulator, each with its reason', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name in withoutHealthcheck) {
        expect(service.healthcheck, name).toBeUndefined();
        expect(withoutHealthcheck[name]!.length).toBeGreaterThan(10);
      } else {
        expect(service.healthcheck?.test?.length, name).toBeGreaterThan(0);
        expect(service.healthcheck?.disable, name).toBeFalsy();
      }
    }
    expect(Object.keys(withoutHealthcheck).every((name) => name in services)).toBe(true);
  });

  it('orders start-up by conditions: healthy for servers, completed for one-shots', () => {
    const oneShots = Object.keys(withoutHealthcheck).filter((name) => name.endsWith('-setup'));
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const wanted = oneShots.includes(dependency) ? 'service_completed_successfully' : 'service_healthy';
        expect(`${name} -> ${dependency}: ${condition}`).toBe(`${name} -> ${dependency}: ${wanted}`);
      }
    }
    // What each bridge needs before it starts.
    expect(Object.keys(services['bridge-metrics']!.depends_on!).sort()).toEqual(['influxdb', 'kafka-setup']);
    expect(Object.keys(services['bridge-logs']!.depends_on!).sort()).toEqual(['elasticsearch-setup', 'kafka-setup']);
  });

  it('lists every published port in its header table, and publishes all but the receivers on 127.0.0.1 only', () => {
    const header = raw.slice(0, raw.indexOf('\nname:'));
    const receivers = new Set(['logstash-logs', 'logstash-metrics', 'rsyslog']);
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        expect(header, `${name}: ${port.published}`).toMatch(new RegExp(`\\b${port.published}\\b`));
        if (!receivers.has(name)) expect(port.host_ip, `${name}: ${port.published}`).toBe('127.0.0.1');
      }
    }
  });

  it('agrees with the kit config: service addresses, receiver and bridge ports, InfluxDB org and bucket, MALLOC_ARENA_MAX', () => {
    const { config } = loadConfigFile(EXAMPLE_CONFIG);
    expect(config.kafka.brokers).toEqual(STACK_ADDRESSES['kafka.brokers']);
    expect(config.sinks.influxdb.url).toBe(STACK_ADDRESSES['sinks.influxdb.url']);
    expect(config.sinks.elasticsearch.url).toBe(STACK_ADDRESSES['sinks.elasticsearch.url']);
    expect(services.influxdb!.environment!.DOCKER_INFLUXDB_INIT_ORG).toBe(config.sinks.influxdb.org);
    expect(services.influxdb!.environment!.DOCKER_INFLUXDB_INIT_BUCKET).toBe(config.sinks.influxdb.bucket);
    expect(services['logstash-logs']!.ports!.map((p) => p.target)).toEqual([config.receivers.logsPort]);
    expect(services['logstash-metrics']!.ports!.map((p) => p.target)).toEqual([config.receivers.metricsPort]);
    expect(services['logstash-logs']!.healthcheck!.test!.join(' ')).toContain(`/dev/tcp/127.0.0.1/${config.receivers.logsPort}`);
    expect(services['logstash-metrics']!.healthcheck!.test!.join(' ')).toContain(`/dev/tcp/127.0.0.1/${config.receivers.metricsPort}`);
    const prometheus = readFileSync(join(COMPOSE_DIR, 'prometheus/prometheus.yml'), 'utf8');
    for (const kind of ['metrics', 'logs'] as const) {
      const port = config.bridges[kind].listen.split(':').at(-1);
      expect(services[`bridge-${kind}`]!.environment!.CDNKIT_BRIDGE_LISTEN).toBe(`0.0.0.0:${port}`);
      expect(prometheus).toContain(`bridge-${kind}:${port}`);
      expect(services[`bridge-${kind}`]!.environment!.MALLOC_ARENA_MAX).toBe('2');
    }
    // Grafana gets the variables its generated provisioning refers to.
    const provisioning = ['datasources', 'alerting'].map((k) => readFileSync(join(generated, 'grafana/provisioning', k, 'cdnkit.yaml'), 'utf8')).join('\n');
    for (const [, name] of provisioning.matchAll(/\$\{(\w+)\}/g)) expect(services.grafana!.environment, name).toHaveProperty(name!);
  });

  it("Prometheus's file is one the real Prometheus loads, scraping both bridges", async () => {
    const prometheus = await startPrometheus({
      bin: inject('tools').prometheus,
      dir: scratchDir('cdnkit-stack-prometheus-'),
      listen: `127.0.0.1:${await freePort()}`,
      config: readFileSync(join(COMPOSE_DIR, 'prometheus/prometheus.yml'), 'utf8'),
    });
    try {
      const response = await fetch(`${prometheus.url}/api/v1/status/config`);
      const loaded = parse(((await response.json()) as { data: { yaml: string } }).data.yaml) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
      const targets = loaded.scrape_configs.flatMap((c) => c.static_configs.flatMap((t) => t.targets));
      const { config } = loadConfigFile(EXAMPLE_CONFIG);
      expect(targets.sort()).toEqual((['logs', 'metrics'] as const).map((kind) => `bridge-${kind}:${config.bridges[kind].listen.split(':').at(-1)}`));
    } finally {
      await prometheus.stop();
    }
  });

  it('the simulator sends to both Logstash receivers, one per log type, in the format their pipelines read', () => {
    const command = services.simulator!.command!.join(' ');
    expect(command).toContain('--to syslog --host logstash-logs --metrics-host logstash-metrics');
    // The logs pipeline's json codec would tag a line behind a syslog header _jsonparsefailure.
    expect(command).toContain('--format blank');
    const pipeline = readFileSync(join(generated, 'receivers/logstash/cdn-logs.conf'), 'utf8');
    expect(pipeline).toContain('Set the CDN endpoint\'s message format to "Blank"');
    expect(pipeline).toMatch(/codec => json/);
  });
});

/** The stages of a Dockerfile: name and base image of each FROM, and the last USER of each. */
function stages(dockerfile: string): { name?: string; from: string; user?: string }[] {
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const found: { name?: string; from: string; user?: string }[] = [];
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) found.push({ from: from[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? ''), ...(from[2] ? { name: from[2] } : {}) });
    const user = /^USER\s+(\S+)/i.exec(line);
    if (user) found.at(-1)!.user = user[1];
  }
  return found;
}

describe('the Dockerfiles', () => {
  it('builds cdnkit in named stages from a pinned base and runs it as a non-root user', () => {
    const found = stages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(found.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    for (const stage of found) expect(stage.from).toMatch(/^node:\d+\.\d+\.\d+-[a-z0-9.-]+$/);
    expect(found.at(-1)!.user).toBe('node');
    expect(services['bridge-metrics']!.build!.target).toBe('runtime');
  });

  it('copies only what exists and what .dockerignore lets into the build context', () => {
    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const copied = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    expect(copied.length).toBeGreaterThan(5);
    for (const source of copied) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(allowed, source).toContain(source);
    }
  });

  it('runs rsyslog from a pinned Debian as a non-root user', () => {
    const found = stages(readFileSync(join(COMPOSE_DIR, 'rsyslog/Dockerfile'), 'utf8'));
    expect(found).toHaveLength(1);
    expect(found[0]!.from).toMatch(/^debian:\d+\.\d+-slim$/);
    expect(found[0]!.user).toMatch(/^(?!root$|0$)\w+/);
  });
});

describe('cdnkit stack init', () => {
  it('writes every variable, secrets crypto-random and new each time, mode 0600; refuses to overwrite without --force', async () => {
    const env = readFileSync(envFile, 'utf8');
    const values = Object.fromEntries([...env.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(values)).toEqual(exampleVariables.map((v) => v.name));
    for (const secret of exampleVariables.filter((v) => v.secret)) expect(values[secret.name]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(exampleVariables.filter((v) => v.secret).map((v) => values[v.name])).size).toBe(3);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);

    const again = await cli(['stack', 'init', '-c', EXAMPLE_CONFIG, '--dir', COMPOSE_DIR, '--generated', generated, '--output', envFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists; use --force');
    expect(readFileSync(envFile, 'utf8')).toBe(env);

    const copy = join(scratchDir('cdnkit-stack-env-'), '.env');
    writeFileSync(copy, env);
    const forced = await cli(['stack', 'init', '-c', EXAMPLE_CONFIG, '--dir', COMPOSE_DIR, '--generated', generated, '--output', copy, '--force', '--slack-webhook-url', 'https://hooks.slack.com/services/T/B/X']);
    expect(forced.code, forced.stderr).toBe(0);
    const renewed = readFileSync(copy, 'utf8');
    expect(/^CDNKIT_INFLUX_TOKEN=(.*)$/m.exec(renewed)![1]).not.toBe(values.CDNKIT_INFLUX_TOKEN);
    expect(renewed).toContain('CDNKIT_SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/X\n');
  });

  it('refuses a kit config whose addresses are not the stack\'s, naming each key', async () => {
    const dir = scratchDir('cdnkit-stack-config-');
    const config = join(dir, 'cdnkit.yaml');
    writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replace('brokers: [ kafka:9092 ]', 'brokers: [ broker-1:9092 ]').replace('url: http://influxdb:8086', 'url: http://metrics-db:8086'));
    const result = await cli(['stack', 'init', '-c', config, '--dir', COMPOSE_DIR, '--output', join(dir, '.env')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('kafka.brokers is ["broker-1:9092"]; the compose stack needs ["kafka:9092"]');
    expect(result.stderr).toContain('sinks.influxdb.url is "http://metrics-db:8086"; the compose stack needs "http://influxdb:8086"');
    expect(existsSync(join(dir, '.env'))).toBe(false);
  });

  it('keeps .env and generated files out of git', () => {
    const ignored = execFileSync('git', ['check-ignore', 'compose/.env', 'compose/generated/grafana/dashboards/overview.json'], { cwd: ROOT, encoding: 'utf8' });
    expect(ignored.trim().split('\n')).toEqual(['compose/.env', 'compose/generated/grafana/dashboards/overview.json']);
    expect(execFileSync('git', ['ls-files', 'compose'], { cwd: ROOT, encoding: 'utf8' })).not.toMatch(/(^|\/)\.env\n|generated\//);
  });
});
