// `cdnkit local up` as a user runs it: a child process of the built CLI, on the shared servers.
// The simulator's traffic goes through the generated rsyslog receivers, Kafka and both bridges
// into InfluxDB and Elasticsearch, with Prometheus scraping the bridges: the sinks hold exactly
// the ground truth, `cdnkit grafana check` finds data on every panel, and SIGINT stops every
// process the run started and exits 0. And nothing outlives its parent: after kill -9 of the local
// run, or of a Node process that started a bridge the way the tests do, the children die.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { KitConfigInput } from '../../src/config/schema.js';
import { alive, exitOf, freePort, runCommand, spawnChild, stopProcess } from '../../src/local/process.js';
import type { LocalRunState } from '../../src/local/stack.js';
import type { Truth } from '../../src/simulate/truth.js';
import { BUILT_CLI, writeKitConfig } from './support/config.js';
import { freshTopics } from './support/kafka.js';
import { sendLines } from './support/rsyslog.js';
import { eventually } from './support/wait.js';
import { scratchDir } from '../support/scratch.js';

const started: ChildProcess[] = [];
afterAll(async () => {
  for (const child of started) await stopProcess(child, 'test child', 20_000);
});

/** A kit config of unique topics, bucket, index, consumer groups and ports, so parallel tests never meet. */
async function uniqueConfig(): Promise<{ file: string; overrides: Partial<KitConfigInput> }> {
  const id = `local-${randomUUID().slice(0, 8)}`;
  const { kafka, influxdb, elasticsearch } = inject('services');
  const topics = await freshTopics(['logs', 'metrics', 'dead'] as const, 3);
  // The servers' addresses matter to a bridge started on this file; `local up` puts its own in.
  const overrides: Partial<KitConfigInput> = {
    receivers: { host: '127.0.0.1', logsPort: await freePort(), metricsPort: await freePort() },
    kafka: { brokers: kafka.brokers, topics: { logs: { name: topics.logs }, metrics: { name: topics.metrics }, deadLetter: { name: topics.dead } }, producer: { lingerMs: 10 } },
    sinks: { influxdb: { url: influxdb.url, org: influxdb.org, bucket: id }, elasticsearch: { url: elasticsearch.url, indexPrefix: id } },
    bridges: { metrics: { groupId: `${id}-metrics`, listen: `127.0.0.1:${await freePort()}` }, logs: { groupId: `${id}-logs`, listen: `127.0.0.1:${await freePort()}` } },
  };
  return { file: writeKitConfig(overrides), overrides };
}

interface LocalUp {
  child: ChildProcess;
  dir: string;
  output(): string;
  /** The state file, once the run said it is up. */
  state: LocalRunState;
}

/** Starts `cdnkit local up` and waits until it prints that it is up. */
async function localUp(configFile: string, flags: string[]): Promise<LocalUp> {
  const dir = join(scratchDir('cdnkit-local-run-'), 'run');
  const prometheusListen = `127.0.0.1:${await freePort()}`;
  const child = spawnChild(process.execPath, [BUILT_CLI, 'local', 'up', '-c', configFile, '--dir', dir, '--prometheus-listen', prometheusListen, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  await eventually('cdnkit local up to say it is up', () => output.includes('The local run is up') || gone(), 300_000, () => output);
  if (gone()) throw new Error(`cdnkit local up exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LocalRunState;
  return { child, dir, output: () => output, state };
}

async function influxCount(bucket: string): Promise<number> {
  const { influxdb } = inject('services');
  const url = new URL('/query', influxdb.url);
  url.search = new URLSearchParams({ db: bucket, q: 'SELECT count(elapsed_time) FROM cdnmetrics', epoch: 'ms' }).toString();
  const body = (await (await fetch(url, { headers: { Authorization: `Token ${influxdb.token}` } })).json()) as {
    results: { series?: { values: [number, number][] }[] }[];
  };
  return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

async function esCount(indexPrefix: string): Promise<number> {
  const es = inject('services').elasticsearch.url;
  await fetch(`${es}/${indexPrefix}-*/_refresh`, { method: 'POST' });
  const body = (await (await fetch(`${es}/${indexPrefix}-*/_count`)).json()) as { count?: number };
  return body.count ?? 0;
}

async function metric(operations: string, name: string): Promise<number> {
  const text = await (await fetch(`${operations}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function promQuery(url: string, query: string): Promise<number | undefined> {
  const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
  const value = body.data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

describe('cdnkit local up', () => {
  it('runs simulator -> rsyslog -> Kafka -> bridges -> InfluxDB and Elasticsearch with Prometheus; exact counts, every panel has data, SIGINT stops all', { timeout: 600_000 }, async () => {
    const { file, overrides } = await uniqueConfig();
    const bucket = overrides.sinks!.influxdb!.bucket!;
    const indexPrefix = overrides.sinks!.elasticsearch!.indexPrefix!;
    const run = await localUp(file, ['--simulate', '--rps', '100', '--duration', '20s', '--seed', '3']);
    const { state } = run;
    expect(state.processes.map((p) => p.name)).toEqual(['rsyslogd', 'bridge metrics', 'bridge logs', 'prometheus', 'simulator']);
    for (const p of state.processes) expect(alive(p.pid), p.name).toBe(true);
    expect(run.output()).toContain(`cdnkit grafana check -c ${state.configFile} --prometheus ${state.prometheus}`);
    expect(run.output()).toContain('cdnkit grafana push -c');

    // One line the metrics bridge cannot parse: it goes to the dead-letter topic, and the
    // dead-letter panel has a series to show.
    await sendLines(Number(state.receivers.metrics.split(':')[1]), ['not line protocol at all']);

    await eventually('the simulator to finish', () => run.output().includes('The simulator finished'), 120_000, run.output);
    const truth = JSON.parse(readFileSync(state.truthFile!, 'utf8')) as Truth;
    expect(truth.totals.requests).toBeGreaterThan(100);
    expect(truth.totals.errors).toBeGreaterThan(0);
    const logs = () => state.processes.map((p) => `--- ${p.name}\n${existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8').slice(-2000) : ''}`).join('\n');
    const written = (kind: 'metrics' | 'logs') => metric(state.bridges[kind], 'cdnkit_bridge_written_lines_total');
    await eventually(`the metrics bridge to write ${truth.totals.requests} lines`, async () => (await written('metrics')) >= truth.totals.requests, 120_000, logs);
    await eventually(`the logs bridge to write ${truth.totals.errors} lines`, async () => (await written('logs')) >= truth.totals.errors, 120_000, logs);
    await eventually('the metrics bridge to dead-letter the bad line', async () => (await metric(state.bridges.metrics, 'cdnkit_bridge_dead_lettered_lines_total')) >= 1, 60_000, logs);
    expect(await written('metrics')).toBe(truth.totals.requests);
    expect(await written('logs')).toBe(truth.totals.errors);
    expect(await metric(state.bridges.metrics, 'cdnkit_bridge_dead_lettered_lines_total')).toBe(1);
    expect(await metric(state.bridges.logs, 'cdnkit_bridge_dead_lettered_lines_total')).toBe(0);
    expect(await influxCount(bucket)).toBe(truth.totals.requests);
    expect(await esCount(indexPrefix)).toBe(truth.totals.errors);

    // Prometheus scrapes both bridges: it has their final counts, and the dead-letter counter
    // twice or more (rate() needs two samples).
    await eventually('Prometheus to scrape the final counts', async () => (await promQuery(state.prometheus, 'sum(cdnkit_bridge_written_lines_total)')) === truth.totals.requests + truth.totals.errors, 60_000);
    await eventually('Prometheus to scrape the dead-letter counter twice', async () => ((await promQuery(state.prometheus, 'count_over_time(cdnkit_bridge_dead_lettered_lines_total[1m])')) ?? 0) >= 2, 60_000);

    const check = await runCommand(process.execPath, [BUILT_CLI, 'grafana', 'check', '-c', state.configFile, '--prometheus', state.prometheus, '--from', 'now-15m'], {
      env: { ...process.env, CDNKIT_INFLUX_TOKEN: inject('services').influxdb.token },
    });
    const panels = check.stdout.split('\n').filter((l) => / cdnkit-[a-z-]+ \/ /.test(l));
    expect(panels.length).toBeGreaterThan(30);
    expect(panels.filter((l) => !l.startsWith('ok '))).toEqual([]);
    expect(check.stdout).toContain(`${panels.length} panels: ${panels.length} answered, 0 with an error or no data`);
    expect(check.code, check.output).toBe(0);

    // As a terminal's Ctrl-C does: SIGINT to the whole process group of `cdnkit local up` (spawnChild
    // made it a group leader). Its children are in groups of their own, so only it gets the signal.
    process.kill(-run.child.pid!, 'SIGINT');
    await exitOf(run.child);
    expect(run.child.exitCode, run.output()).toBe(0);
    for (const p of state.processes) expect(alive(p.pid), `${p.name} (pid ${p.pid})`).toBe(false);
    expect(existsSync(join(run.dir, 'state.json'))).toBe(false);
    // Stopped in the reverse order of starting.
    const stops = [...run.output().matchAll(/\[cdnkit\] (.+): stop \.\.\./g)].map((m) => m[1]);
    expect(stops).toEqual(['simulator', 'prometheus', 'bridge logs', 'bridge metrics', 'rsyslogd']);
  });
  it('refuses to start when a port it needs is taken, naming the key to change, and starts nothing', async () => {
    const { file, overrides } = await uniqueConfig();
    const taken = createServer().listen(overrides.receivers!.logsPort, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const dir = join(scratchDir('cdnkit-local-run-'), 'run');
      const result = await runCommand(process.execPath, [BUILT_CLI, 'local', 'up', '-c', file, '--dir', dir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${overrides.receivers!.logsPort}, for the logs receiver (receivers.logsPort), is in use`);
      expect(existsSync(join(dir, 'state.json'))).toBe(false);
    } finally {
      taken.close();
    }
  });
});

describe('nothing outlives its parent', () => {
  /** Polls until none of `pids` is alive; fails (instead of hanging) after a generous bound. */
  const allGone = (what: string, pids: number[]) => eventually(`${what} (pids ${pids.join(', ')}) to be gone`, () => pids.every((pid) => !alive(pid)), 30_000);

  it('kill -9 of the local run: its receivers, bridges, Prometheus and simulator die', { timeout: 600_000 }, async () => {
    const { file } = await uniqueConfig();
    const run = await localUp(file, ['--simulate', '--rps', '20']);
    const pids = run.state.processes.map((p) => p.pid);
    expect(pids).toHaveLength(5);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    run.child.kill('SIGKILL');
    await exitOf(run.child);
    await allGone('the local run\'s children', pids);
  });

  it('kill -9 of a Node process that started a bridge the way the tests do: the bridge dies', { timeout: 120_000 }, async () => {
    const { file } = await uniqueConfig();
    const script = join(scratchDir('cdnkit-parent-'), 'parent.mjs');
    const bridgeModule = new URL('../../dist/src/local/bridge-process.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { startBridgeProcess } from ${JSON.stringify(bridgeModule)};
const bridge = await startBridgeProcess('metrics', ${JSON.stringify(file)}, { CDNKIT_INFLUX_TOKEN: ${JSON.stringify(inject('services').influxdb.token)} });
await bridge.waitReady();
process.stdout.write(\`bridge \${bridge.pid}\\n\`);
setInterval(() => undefined, 1 << 30);
`,
    );
    const parent = spawnChild(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(parent);
    let output = '';
    parent.stdout!.on('data', (d) => (output += d));
    parent.stderr!.on('data', (d) => (output += d));
    await eventually('the parent to start its bridge', () => /bridge \d+/.test(output) || parent.exitCode !== null, 60_000, () => output);
    const bridgePid = Number(/bridge (\d+)/.exec(output)?.[1]);
    expect(alive(bridgePid), output).toBe(true);
    parent.kill('SIGKILL');
    await exitOf(parent);
    await allGone('the bridge', [bridgePid]);
  });
});
