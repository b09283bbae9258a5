// `cdnkit dead-letters` on dead letters written by real bridges: malformed metrics and log lines go
// through `cdnkit bridge metrics|logs` into the dead-letter topic with the bridges' own headers,
// and the command counts them by reason and source topic, shows samples, honours --since and
// --follow, and commits no offset.
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KitConfigInput } from '../../src/config/schema.js';
import { spawnChild, stopProcess } from '../../src/local/process.js';
import { createBucket, startInfluxDB } from '../../src/local/services/influxdb.js';
import { setupKafkaTopics } from '../../src/stack/setup.js';
import { inheritedEnv, startBridgeProcess, type BridgeProcess } from '../../src/local/bridge-process.js';
import { runBuiltCli } from './support/cli.js';
import { BUILT_CLI, referenceKit, writeKitConfig } from './support/config.js';
import { produceLines } from './support/kafka.js';
import { eventually } from './support/wait.js';

const run = randomUUID().slice(0, 8);
const topics = { logs: `dl-${run}-logs`, metrics: `dl-${run}-metrics`, dead: `dl-${run}-dead` };
const bridges: BridgeProcess[] = [];
let configFile: string;
const BAD_METRICS = ['garbage one', 'garbage two', 'garbage three'];
const COMMENTS = ['# a comment', '# another comment'];
const BAD_LOGS = ['not json at all', `{"truncated": "${'x'.repeat(300)}`];

beforeAll(async () => {
  const influx = await startInfluxDB();
  const bucket = `dl-${run}`;
  await createBucket(influx, bucket);
  const overrides: Partial<KitConfigInput> = {
    kafka: {
      brokers: inject('services').kafka.brokers,
      topics: { logs: { name: topics.logs, partitions: 1 }, metrics: { name: topics.metrics, partitions: 1 }, deadLetter: { name: topics.dead, partitions: 1 } },
    },
    sinks: { influxdb: { url: influx.url, org: influx.org, bucket }, elasticsearch: { url: inject('services').elasticsearch.url, indexPrefix: `dl-${run}` } },
    bridges: { metrics: { groupId: `dl-metrics-${run}` }, logs: { groupId: `dl-logs-${run}` } },
  };
  await setupKafkaTopics(referenceKit(overrides), () => {});
  configFile = writeKitConfig(overrides);
  for (const kind of ['metrics', 'logs'] as const) {
    const bridge = await startBridgeProcess(kind, configFile, { CDNKIT_INFLUX_TOKEN: influx.token });
    bridges.push(bridge);
    await bridge.waitReady();
  }
  // Metrics first, then logs: the dead-letter topic's single partition then holds them in that order.
  await produceLines(topics.metrics, [...BAD_METRICS, ...COMMENTS]);
  await eventually('5 metrics lines dead-lettered', async () => (await bridges[0]!.metric('cdnkit_bridge_dead_lettered_lines_total')) === 5);
  await produceLines(topics.logs, BAD_LOGS);
  await eventually('2 log lines dead-lettered', async () => (await bridges[1]!.metric('cdnkit_bridge_dead_lettered_lines_total')) === 2);
}, 120_000);

afterAll(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
});

const deadLetters = (...flags: string[]) => runBuiltCli(['dead-letters', '-c', configFile, ...flags]);

describe('cdnkit dead-letters', () => {
  it('counts the dead letters by reason and source topic, with up to --limit samples of each', async () => {
    const result = await deadLetters('--limit', '2');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      `${topics.dead}: 7 dead letter(s) read (partition 0: offsets 0..6)`,
      '',
      'count  reason kind (cdnkit-reason up to ":")  <- source topic',
      `    3  invalid line protocol  <- ${topics.metrics}`,
      `    2  invalid JSON  <- ${topics.logs}`,
      `    2  not a point  <- ${topics.metrics}`,
    ]);
    const section = (title: string) => lines.slice(lines.indexOf(title) + 1, lines.indexOf(title) + 5);
    const invalid = section(`invalid line protocol <- ${topics.metrics}: 3, the first 2:`);
    expect(invalid[0]).toMatch(new RegExp(`^  ${topics.metrics}\\[0\\]@0 -> partition 0 offset 0, \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, by the metrics bridge: invalid line protocol: .+`));
    expect(invalid[1]).toBe('    "garbage one"');
    expect(invalid[2]).toMatch(new RegExp(`^  ${topics.metrics}\\[0\\]@1 -> partition 0 offset 1, .*by the metrics bridge: invalid line protocol: `));
    expect(invalid[3]).toBe('    "garbage two"');
    expect(result.stdout).not.toContain('garbage three');
    expect(section(`not a point <- ${topics.metrics}: 2, all:`)).toEqual([
      expect.stringMatching(/@3 -> partition 0 offset 3, .*by the metrics bridge: not a point: a comment line, which InfluxDB ignores$/),
      '    "# a comment"',
      expect.stringMatching(/@4 -> partition 0 offset 4, .*by the metrics bridge: not a point: a comment line, which InfluxDB ignores$/),
      '    "# another comment"',
    ]);
    const json = section(`invalid JSON <- ${topics.logs}: 2, all:`);
    expect(json[0]).toMatch(new RegExp(`^  ${topics.logs}\\[0\\]@0 -> partition 0 offset 5, .*by the logs bridge: invalid JSON`));
    expect(json[1]).toBe('    "not json at all"');
    // Long lines are cut, and say how long they were.
    expect(json[3]).toBe(`    ${JSON.stringify(BAD_LOGS[1]!.slice(0, 200))} … (${BAD_LOGS[1]!.length} characters)`);
  });

  it('is what cdnkit doctor points at when a bridge dead-letters', async () => {
    const result = await runBuiltCli(['doctor', '-c', configFile, '--bridge-metrics-url', bridges[0]!.operations, '--bridge-logs-url', bridges[1]!.operations], {
      CDNKIT_INFLUX_TOKEN: (await startInfluxDB()).token,
    });
    expect(result.stdout).toContain(`ok    kafka          topic ${topics.dead} (kafka.topics.deadLetter) has 1 partition(s), 7 dead letter(s) retained (cdnkit dead-letters shows why)`);
    expect(result.stdout).toMatch(
      /warn {2}bridge metrics consumer lag 0 line\(s\) over 1 assigned partition\(s\); 5 line\(s\) dead-lettered since it started \(invalid line protocol: 3, not a point: 2\) — fix: cdnkit dead-letters shows the lines and their reasons/,
    );
    expect(result.stdout).toMatch(/warn {2}bridge logs {4}consumer lag 0 line\(s\) over 1 assigned partition\(s\); 2 line\(s\) dead-lettered since it started \(invalid JSON: 2\)/);
  });

  it('starts where --since says: an offset, a duration, or the end', async () => {
    expect((await deadLetters('--since', '5')).stdout.split('\n')[0]).toBe(`${topics.dead}: 2 dead letter(s) read (partition 0: offsets 5..6)`);
    expect((await deadLetters('--since', '1h')).stdout.split('\n')[0]).toBe(`${topics.dead}: 7 dead letter(s) read (partition 0: offsets 0..6)`);
    expect((await deadLetters('--since', 'end')).stdout).toBe(`${topics.dead}: 0 dead letter(s) read (partition 0: nothing from offset 7)\n`);
    const bad = await deadLetters('--since', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since "yesterday": write beginning, end, a duration such as 15m, 2h or 7d, an ISO-8601 time, or an offset (a whole number)');
  });

  it('follows new dead letters until Ctrl-C', async () => {
    const child = spawnChild(process.execPath, [BUILT_CLI, 'dead-letters', '-c', configFile, '--since', 'end', '--follow'], { env: inheritedEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await eventually('the follower caught up', () => output.includes('following new dead letters (Ctrl-C stops):'), 30_000, () => output);
      await produceLines(topics.metrics, ['garbage late']);
      await eventually('the new dead letter printed', () => output.includes('    "garbage late"'), 30_000, () => output);
      expect(output).toMatch(new RegExp(`${topics.metrics}\\[0\\]@5 -> partition 0 offset 7, .*by the metrics bridge: invalid line protocol: `));
      child.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      await stopProcess(child, 'dead-letters --follow', 5000);
    }
  });

  it('commits no offset and leaves no group behind', async () => {
    const admin = new kafkajs.Kafka({ brokers: inject('services').kafka.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    const readers = async () => (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith('cdnkit-dead-letters-'));
    try {
      const before = await readers();
      expect((await deadLetters()).stdout.split('\n')[0]).toBe(`${topics.dead}: 8 dead letter(s) read (partition 0: offsets 0..7)`);
      // Those of earlier runs (or other runs now) may come and go; this run's is gone.
      expect((await readers()).filter((id) => !before.includes(id))).toEqual([]);
      for (const groupId of before) {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topics.dead] });
        expect(offsets!.partitions.map((p) => p.offset)).toEqual(['-1']);
      }
    } finally {
      await admin.disconnect();
    }
  });
});
