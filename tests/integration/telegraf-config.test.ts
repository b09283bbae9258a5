// The bench's peer: the harness builds a trimmed Telegraf, and Telegraf accepts the configs the bench
// generates for it (`telegraf config check` initializes every plugin without starting it), so a
// bench run does not find out about a config mistake half-way through.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { telegrafConfig, type TelegrafJob } from '../../bench/lib/telegraf.js';
import { runCommand } from '../../src/local/process.js';
import { TELEGRAF_VERSION } from '../../src/local/tools.js';
import { scratchDir } from '../support/scratch.js';

const telegraf = inject('tools').telegraf;
const scratch = scratchDir('cdnkit-telegraf-');

const job = (sink: TelegrafJob['sink']): TelegrafJob => ({
  brokers: ['127.0.0.1:1'],
  topic: 'cdn-metrics',
  groupId: 'bench',
  sink,
  batchLines: 5000,
  maxUndelivered: 60_000,
  concurrentWrites: 3,
});

async function check(config: string): Promise<{ code: number | null; output: string }> {
  const file = join(scratch, `telegraf-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, config);
  const result = await runCommand(telegraf, ['config', 'check', '--config', file], { timeoutMs: 30_000 });
  return { code: result.code, output: result.stdout + result.stderr };
}

describe('telegraf (the bench peer)', () => {
  it('is the pinned version, built with only the plugins the bench uses', async () => {
    const version = await runCommand(telegraf, ['--version']);
    expect(version.stdout).toContain(`Telegraf ${TELEGRAF_VERSION.slice(1)}`);
    const listed = async (kind: string) => (await runCommand(telegraf, ['plugins', kind])).stdout.split('\n').filter(Boolean).sort();
    expect(await listed('inputs')).toEqual(['inputs.kafka_consumer']);
    expect(await listed('outputs')).toEqual(['outputs.elasticsearch', 'outputs.influxdb_v2']);
  });

  it('accepts the generated Kafka → InfluxDB and Kafka → Elasticsearch configs', async () => {
    for (const sink of [
      { kind: 'influxdb', url: 'http://127.0.0.1:1', token: 't', org: 'cdnkit', bucket: 'cdnkit' },
      { kind: 'elasticsearch', url: 'http://127.0.0.1:1', indexPrefix: 'cdn-logs' },
    ] as const) {
      const result = await check(telegrafConfig(job(sink)));
      expect(result.output).not.toMatch(/E! /);
      expect(result.code).toBe(0);
    }
  });

  it('refuses a config with a wrong setting, so the check above checks', async () => {
    const config = telegrafConfig(job({ kind: 'influxdb', url: 'http://127.0.0.1:1', token: 't', org: 'o', bucket: 'b' })).replace('kafka_version = "4.0.0"', 'kafka_version = "not-a-version"');
    const result = await check(config);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('not-a-version');
  });
});
