// The generated alert rules, evaluated by the check (grafana/check/alerts.ts) as Grafana's ruler
// would, against the real InfluxDB loaded with 70 simulated minutes ending now: steady traffic
// fires nothing; a 5xx burst on one API fires that API's instance of the 5xx rule and no other (not
// the product's, which counts 5xx beyond the worst API); 5xx on every API fire the product's; a
// traffic drop and a latency spike at one POP trip their rules; an empty bucket trips "no data".
// The scenarios cover the last minutes only, so the baseline rules fire only if they compare the
// recent window with the hour before it.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateRules, type RuleEvaluation } from '../../grafana/check/alerts.js';
import { grafanaResources } from '../../grafana/index.js';
import { influxSink } from '../../src/bridge/influxdb-sink.js';
import type { SourceRecord } from '../../src/bridge/sink.js';
import { edgeTraffic } from '../../src/simulate/run.js';
import type { Scenario } from '../../src/simulate/scenarios.js';
import { createBucket, startInfluxDB, type RunningInflux } from '../../src/local/services/influxdb.js';
import { referenceKit } from './support/config.js';

const id = randomUUID().slice(0, 8);
const MINUTE = 60_000;
const config = referenceKit();
const rules = grafanaResources(config).alerts.rules;
/** The last 6 minutes of 70: the recent window (5m) is inside the scenario, the baseline before it. */
const RECENT = { start: 64 * MINUTE, duration: 10 * MINUTE };
let influx: RunningInflux;

/** Loads 70 minutes of traffic ending now into a fresh bucket and evaluates every rule. */
async function evaluate(name: string, scenarios: Scenario[] | 'empty'): Promise<Record<string, RuleEvaluation>> {
  const bucket = `alerts-${name}-${id}`;
  await createBucket(influx, bucket);
  if (scenarios !== 'empty') {
    const now = Date.now();
    const lines = [...edgeTraffic({ config, seed: 3, startMs: now - 70 * MINUTE, requestsPerSecond: 10, durationMs: 70 * MINUTE, format: 'blank', scenarios })].map((r) => r.metric);
    const sink = influxSink({ url: influx.url, token: influx.token, org: influx.org, bucket });
    for (let at = 0; at < lines.length; at += 5000) {
      const records: SourceRecord[] = lines.slice(at, at + 5000).map((line, i) => ({ topic: 'cdn-metrics', partition: 0, offset: String(at + i), timestamp: String(now), key: null, value: Buffer.from(line) }));
      const outcome = await sink.write(records);
      expect(outcome.rejected.length + outcome.retry.length).toBe(0);
    }
    await sink.close();
  }
  const evaluations = await evaluateRules(rules, { url: influx.url, token: influx.token, database: bucket, retentionPolicy: 'autogen' });
  for (const e of evaluations) expect(e.state, `${e.uid}: ${e.reason}`).not.toBe('error');
  return Object.fromEntries(evaluations.map((e) => [e.uid, e]));
}

const firing = (e: RuleEvaluation | undefined) => (e?.instances ?? []).filter((i) => i.firing).map((i) => i.labels);

beforeAll(async () => {
  influx = await startInfluxDB();
});

describe('alert rules on simulated traffic', () => {
  it('steady traffic fires no rule', { timeout: 120_000 }, async () => {
    const result = await evaluate('steady', []);
    expect(Object.values(result).filter((e) => e.state === 'firing').map((e) => [e.uid, firing(e)])).toEqual([]);
    // The rules judged real groups: APIs with 5xx responses in the window, every POP.
    expect(result['cdnkit-5xx-ratio-api']!.instances.length).toBeGreaterThan(0);
    expect(result['cdnkit-p99-elapsed']!.instances.length).toBe(13);
  });

  it("a 5xx burst on one API fires that API's 5xx-ratio rule and no other: not another API's, not the product's", { timeout: 120_000 }, async () => {
    const result = await evaluate('burst', [{ type: 'errors', api: 'checkout', share: 0.5, ...RECENT }]);
    expect(firing(result['cdnkit-5xx-ratio-api'])).toEqual([{ product: 'api', api_name: 'checkout' }]);
    expect(result['cdnkit-5xx-ratio-api']!.instances.length).toBeGreaterThan(1);
    // The product rule judged the product and found the 5xx beyond checkout below the threshold.
    expect(result['cdnkit-5xx-ratio-product']!.instances.map((i) => [i.labels, i.firing])).toEqual([[{ product: 'api' }, false]]);
    expect(result['cdnkit-traffic-drop']!.state).toBe('normal');
    expect(result['cdnkit-p99-elapsed']!.state).toBe('normal');
    expect(result['cdnkit-no-data']!.state).toBe('normal');
  });

  it('errors on every API trip the error ratio against its baseline (the hour before, not the same window)', { timeout: 120_000 }, async () => {
    const result = await evaluate('errors', [{ type: 'errors', share: 0.3, ...RECENT }]);
    const baseline = result['cdnkit-error-ratio-baseline']!;
    expect(firing(baseline)).toEqual([{ product: 'api' }]);
    // 5xx spread across APIs is the product's alert: beyond its worst API, the share is still high.
    expect(firing(result['cdnkit-5xx-ratio-product'])).toEqual([{ product: 'api' }]);
    expect(result['cdnkit-5xx-ratio-product']!.instances[0]!.value).toBeGreaterThan(0.1);
    expect(baseline.instances[0]!.value).toBeGreaterThan(3);
    expect(result['cdnkit-traffic-drop']!.state).toBe('normal');
  });

  it('a traffic drop trips the traffic-drop rule against the hour before, and nothing else', { timeout: 120_000 }, async () => {
    const result = await evaluate('drop', [{ type: 'drop', factor: 0.2, ...RECENT }]);
    expect(firing(result['cdnkit-traffic-drop'])).toEqual([{ product: 'api' }]);
    expect(result['cdnkit-traffic-drop']!.instances[0]!.value).toBeLessThan(0.3);
    expect(Object.values(result).filter((e) => e.state === 'firing').map((e) => e.uid)).toEqual(['cdnkit-traffic-drop']);
  });

  it('a latency spike at one POP trips the p99 rule for that POP only', { timeout: 120_000 }, async () => {
    const result = await evaluate('latency', [{ type: 'latency', pop: 'FRA', factor: 10, ...RECENT }]);
    expect(firing(result['cdnkit-p99-elapsed'])).toEqual([{ product: 'api', pop: 'FRA' }]);
    expect(result['cdnkit-5xx-ratio-api']!.state).toBe('normal');
    expect(result['cdnkit-traffic-drop']!.state).toBe('normal');
  });

  it('an empty bucket trips "no data from the pipeline"', { timeout: 60_000 }, async () => {
    const result = await evaluate('empty', 'empty');
    expect(result['cdnkit-no-data']!.state).toBe('firing');
    expect(Object.values(result).filter((e) => e.state === 'firing').map((e) => e.uid)).toEqual(['cdnkit-no-data']);
  });
});
