// `cdnkit simulate`: deterministic bytes, scenarios that move what they target, lines from any
// config that the project's parsers accept, and a ground truth that equals a recount of the lines.
import { spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../integration/support/wait.js';
import { stringify } from 'yaml';
import { ConfigError, parseConfig, type ConfigProblem } from '../../src/config/load.js';
import { referenceConfig, referenceFields } from '../../src/config/preset.js';
import { kitConfigSchema, type KitConfigInput } from '../../src/config/schema.js';
import { checkLine, parseLine } from '../../src/ilp/line-protocol.js';
import { syslogDestination, type Destination } from '../../src/simulate/destinations.js';
import { runSimulation, type RunOptions } from '../../src/simulate/run.js';
import { loadScenarioFile, parseScenarioFlag, type Scenario } from '../../src/simulate/scenarios.js';
import { documents, points, recount, type SentLine } from '../fixtures/recount.js';
import { configErrors, problemsRaised } from './support/config-problems.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const START = Date.parse('2026-03-02T14:00:00Z');
const reference = kitConfigSchema.parse(referenceConfig);

/** The reference fields, with client IP and country in the metric too, and custom fields of every type. */
const CUSTOM: KitConfigInput = {
  ...referenceConfig,
  fields: [
    ...referenceFields
      .map((f) => (f.name === 'client_ip' ? { ...f, roles: ['log', 'field'] as const } : f))
      .map((f) => (f.name === 'region' ? { ...f, simulate: { values: ['north', 'south'] } } : f))
      // A reference name declared as a number although the model's value is text.
      .map((f) => (f.name === 'scheme_type' ? { ...f, type: 'integer' as const, roles: ['log', 'field'] as const } : f))
      .map((f) => ({ ...f, roles: [...f.roles] })),
    { name: 'client_country', roles: ['field'], fastly: 'client.geo.country_code', varnish: 'req.http.X-Country' },
    { name: 'tenant', roles: ['log', 'tag'], fastly: 'req.http.Tenant', varnish: 'req.http.Tenant', simulate: { values: { 'acme corp': 5, 'globex,inc': 2, 'a=b "c"': 1 } } },
    { name: 'retries', type: 'integer', roles: ['log', 'field'], fastly: 'req.restarts', varnish: 'req.restarts', simulate: { range: { min: 0, max: 3 } } },
    { name: 'note', roles: ['log', 'field'], fastly: 'req.http.Note', varnish: 'req.http.Note', simulate: { values: ['say "hi"', 'back\\slash'] } },
    { name: 'weight', type: 'float', roles: ['field'], fastly: 'req.http.Weight', varnish: 'req.http.Weight' },
    { name: 'shielded', type: 'boolean', roles: ['log', 'field'], fastly: 'fastly.ff.visits_this_service', varnish: 'req.http.Shielded' },
    { name: 'seen_at', type: 'timestamp', roles: ['log'], fastly: 'now', varnish: 'req.http.Seen-At' },
    { name: 'edge_zone', roles: ['tag'], fastly: 'req.http.Zone', varnish: 'req.http.Zone' },
  ],
};
const custom = parseConfig(stringify(CUSTOM)).config;

function memory(): Destination & { lines: SentLine[] } {
  const lines: SentLine[] = [];
  return { description: 'memory', lines, send: (type, line) => void lines.push({ type, line }), close: async () => undefined, waitedMs: () => 0 };
}

async function simulate(overrides: Partial<RunOptions> = {}) {
  const destination = memory();
  const result = await runSimulation(
    { config: reference, seed: 42, startMs: START, rate: 0, requestsPerSecond: 200, count: 20_000, format: 'blank', truth: true, ...overrides },
    destination,
  );
  return { lines: destination.lines, truth: result.truth!, summary: result.summary };
}

/** Points whose timestamp lies in [fromMs, toMs). */
function pointsBetween(lines: SentLine[], fromMs: number, toMs: number) {
  return points(lines).filter((p) => {
    const ms = Number(p.timestamp! / 1_000_000n);
    return ms >= fromMs && ms < toMs;
  });
}

/** Scratch folders, removed at the end. */
const scratch: string[] = [];
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const WINDOW = { start: 30_000, duration: 40_000 };
const inWindow = (lines: SentLine[]) => pointsBetween(lines, START + WINDOW.start, START + WINDOW.start + WINDOW.duration);

// Each test simulates tens of thousands of requests: seconds, on two shared cores.
describe('cdnkit simulate', { timeout: 30_000 }, () => {
  it('is deterministic: the same config, seed and start give the same bytes; another seed does not', async () => {
    const a = await simulate({ format: 'classic' });
    const b = await simulate({ format: 'classic' });
    expect(a.lines.length).toBeGreaterThan(20_000);
    expect(b.lines).toEqual(a.lines);
    expect(b.truth).toEqual(a.truth);
    const other = await simulate({ format: 'classic', seed: 43 });
    expect(other.lines).not.toEqual(a.lines);
  });

  it('writes the metric point before its error JSON, and error JSON exactly for statuses >= errors.minStatus', async () => {
    const { lines } = await simulate({ count: 5000 });
    let errors = 0;
    lines.forEach((l, i) => {
      if (l.type === 'logs') {
        const doc = JSON.parse(l.line) as { resp_status: number };
        expect(lines[i - 1]!.type).toBe('metrics');
        expect(parseLine(lines[i - 1]!.line).tags.resp_status).toBe(String(doc.resp_status));
      } else if (Number(parseLine(l.line).tags.resp_status) >= reference.errors.minStatus) errors++;
    });
    expect(errors).toBeGreaterThan(0);
    expect(lines.filter((l) => l.type === 'logs')).toHaveLength(errors);
  });

  it('stamps nanoseconds as end time in µs and the sequence number mod 1000, so same-µs requests stay distinct', async () => {
    const { lines } = await simulate({ requestsPerSecond: 2_000_000, count: 5000 });
    const stamps = points(lines).map((p) => p.timestamp!);
    stamps.forEach((ns, seq) => expect(ns % 1000n).toBe(BigInt(seq % 1000)));
    const micros = stamps.map((ns) => ns / 1000n);
    expect(new Set(micros).size).toBeLessThan(micros.length); // requests did end in the same µs
    expect(new Set(stamps).size).toBe(stamps.length);
  });

  it('the ground truth equals a recount of the lines sent, parsed back', async () => {
    const { lines, truth } = await simulate({ config: custom, format: 'classic', count: 30_000, requestsPerSecond: 150 });
    const recounted = recount(lines, custom);
    expect(recounted.minutes.length).toBeGreaterThan(2);
    expect(truth.minutes).toEqual(recounted.minutes);
    expect(truth.totals).toEqual(recounted.totals);
    expect(truth.errors).toEqual(recounted.errors);
    expect(truth.distinctClientsByCountry).toEqual(recounted.distinctClientsByCountry);
    expect(Object.keys(truth.distinctClientsByCountry).length).toBeGreaterThan(3);
    // Some requests lost their backend (origin failure), and the sinks see the missing value.
    expect(truth.minutes.some((m) => m.by.actualBackend[custom.metrics.missingTagValue])).toBe(true);
    // A hint on a counted field (region) is what the truth counts.
    expect(Object.keys(truth.minutes[0]!.by.region).sort()).toEqual(['north', 'south']);
  });

  it('a config with custom fields and simulate hints gives lines the line-protocol parser and JSON.parse accept', async () => {
    const { lines } = await simulate({ config: custom, count: 3000 });
    for (const l of lines.filter((x) => x.type === 'metrics')) expect(() => checkLine(l.line)).not.toThrow();
    const parsed = points(lines);
    const docs = documents(lines);
    expect(docs.length).toBeGreaterThan(0);
    // Hinted values, normalised for tags and escaped for string fields, each drawn.
    expect(new Set(parsed.map((p) => p.tags.tenant))).toEqual(new Set(['acme_corp', 'globex_inc', 'a_b__c_']));
    expect(new Set(docs.map((d) => d.tenant))).toEqual(new Set(['acme corp', 'globex,inc', 'a=b "c"']));
    expect(new Set(parsed.map((p) => p.fields.note!.value))).toEqual(new Set(['say "hi"', 'back\\slash']));
    expect(new Set(parsed.map((p) => p.fields.retries!.value))).toEqual(new Set([0n, 1n, 2n, 3n]));
    for (const p of parsed) {
      expect(p.fields.retries!.type).toBe('integer');
      expect(p.fields.weight!.type).toBe('float');
      expect(p.fields.shielded!.type).toBe('boolean');
      expect(p.fields.scheme_type!.type).toBe('integer');
      expect(p.tags.edge_zone).toMatch(/^edge_zone-\d$/);
      expect(Number(p.fields.time_to_first_byte!.value) * 1000).toBeLessThanOrEqual(Number(p.fields.elapsed_time!.value));
    }
    for (const d of docs) {
      expect(typeof d.retries).toBe('number');
      expect(typeof d.shielded).toBe('boolean');
      expect(d.seen_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });

  const scenarioCases: { scenario: Scenario; check: (base: SentLine[], changed: SentLine[]) => void }[] = [
    {
      scenario: parseScenarioFlag(`errors:api=checkout,start=${WINDOW.start / 1000}s,duration=${WINDOW.duration / 1000}s,share=0.5`),
      check(base, changed) {
        const share = (lines: SentLine[]) => {
          const checkout = inWindow(lines).filter((p) => p.tags.api_name === 'checkout');
          return checkout.filter((p) => p.tags.resp_status!.startsWith('5')).length / checkout.length;
        };
        expect(share(base)).toBeLessThan(0.05);
        expect(share(changed)).toBeGreaterThan(0.4);
      },
    },
    {
      scenario: parseScenarioFlag(`latency:pop=IAD,start=${WINDOW.start / 1000}s,duration=${WINDOW.duration / 1000}s,factor=10`),
      check(base, changed) {
        const mean = (lines: SentLine[]) => {
          const iad = inWindow(lines).filter((p) => p.tags.pop === 'IAD');
          return iad.reduce((s, p) => s + Number(p.fields.elapsed_time!.value), 0) / iad.length;
        };
        expect(mean(changed)).toBeGreaterThan(5 * mean(base));
      },
    },
    {
      scenario: parseScenarioFlag(`drop:start=${WINDOW.start / 1000}s,duration=${WINDOW.duration / 1000}s,factor=0.2`),
      check(base, changed) {
        expect(inWindow(changed).length).toBeLessThan(0.3 * inWindow(base).length);
        expect(inWindow(changed).length).toBeGreaterThan(0.1 * inWindow(base).length);
      },
    },
    {
      scenario: parseScenarioFlag(`auth:api=catalog,pop=IAD,start=${WINDOW.start / 1000}s,duration=${WINDOW.duration / 1000}s`),
      check(base, changed) {
        const denied = (lines: SentLine[]) =>
          inWindow(lines).filter((p) => p.tags.api_name === 'catalog' && p.tags.pop === 'IAD' && ['401', '403'].includes(p.tags.resp_status!)).length;
        expect(denied(changed)).toBeGreaterThan(10 * Math.max(1, denied(base)));
      },
    },
    {
      scenario: parseScenarioFlag(`failover:backend=search-origin,to=search-dr,start=${WINDOW.start / 1000}s,duration=${WINDOW.duration / 1000}s`),
      check(base, changed) {
        const moved = (lines: SentLine[]) => inWindow(lines).filter((p) => p.tags.request_backend === 'search-origin' && p.tags.actual_backend === 'search-dr').length;
        expect(moved(base)).toBe(0);
        expect(moved(changed)).toBeGreaterThan(100);
      },
    },
  ];

  let base: Awaited<ReturnType<typeof simulate>> | undefined;
  it.each(scenarioCases.map((c) => [c.scenario.type, c] as const))('scenario %s changes the aggregates it targets, only in its window', async (_type, { scenario, check }) => {
    const window = { count: Number.POSITIVE_INFINITY, durationMs: WINDOW.start + WINDOW.duration + 10_000 };
    base ??= await simulate(window);
    const changed = await simulate({ ...window, scenarios: [scenario] });
    check(base.lines, changed.lines);
    // Before the window the traffic is the same, byte for byte.
    const before = (lines: SentLine[]) => pointsBetween(lines, START, START + WINDOW.start);
    expect(before(changed.lines)).toEqual(before(base.lines));
  });

  it('waits for a receiver that stops reading instead of buffering, and counts the wait', async () => {
    // A syslog receiver that reads nothing until told to: the sender must block, not buffer.
    const sockets: Socket[] = [];
    let received = 0;
    const server = createServer((socket) => {
      socket.pause();
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => {
        for (const byte of chunk) if (byte === 10) received++;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const config = kitConfigSchema.parse({ ...referenceConfig, receivers: { host: '127.0.0.1', logsPort: port, metricsPort: port } });
    const destination = await syslogDestination(config);
    // Count what is handed to the sockets, and notice when a send has to wait.
    let handed = 0;
    let blocked = false;
    const counted: Destination = {
      ...destination,
      send(type, line) {
        handed += line.length + 1;
        const wait = destination.send(type, line);
        if (wait) blocked = true;
        return wait;
      },
    };
    const lines = 200_000;
    const running = runSimulation({ config, seed: 1, startMs: START, rate: 0, requestsPerSecond: 1000, count: lines, format: 'blank' }, counted);
    try {
      await eventually('the simulator to wait for the paused receiver', () => blocked, 60_000);
      expect(received).toBe(0);
      // What left the simulator while nothing was read is bounded by the sockets' buffers (4.5 MB
      // here), far below the run's ~55 MB.
      expect(handed).toBeLessThan(16 * 2 ** 20);
      for (const socket of sockets) socket.resume();
      const { summary } = await running;
      expect(received).toBe(summary.metricLines + summary.errorLines);
      expect(summary.requests).toBe(lines);
      expect(summary.waitedSeconds).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  }, 60_000);

  it('follows a daily shape, which --day compresses', async () => {
    const day = await simulate({ count: Number.POSITIVE_INFINITY, durationMs: 10 * 60_000, dayMs: 10 * 60_000, requestsPerSecond: 20 });
    const perMinute = day.truth.minutes.map((m) => m.all.requests);
    expect(perMinute).toHaveLength(10);
    expect(Math.max(...perMinute)).toBeGreaterThan(2.5 * Math.min(...perMinute));
  });

  it('--live sends each request no earlier than its event time, which starts now', async () => {
    const began = Date.now();
    const { lines, summary } = await simulate({ live: true, startMs: began, count: Number.POSITIVE_INFINITY, durationMs: 400, requestsPerSecond: 500 });
    const ended = Date.now();
    const stamps = points(lines).map((p) => Number(p.timestamp! / 1_000_000n));
    expect(stamps.length).toBeGreaterThan(50);
    expect(stamps[0]).toBeGreaterThanOrEqual(began);
    // The pacer sends up to 2 ms early rather than sleep for less.
    expect(ended - began).toBeGreaterThanOrEqual(stamps[stamps.length - 1]! - began - 2);
    expect(summary.requests).toBe(stamps.length);
  });

  it('refuses a scenario aimed at an API, backend or POP it does not simulate', async () => {
    await expect(simulate({ scenarios: [parseScenarioFlag('latency:pop=XYZ,start=0s,duration=1m')] })).rejects.toThrow(
      /scenario latency: pop "XYZ" is not simulated; the pops are IAD, JFK/,
    );
    await expect(simulate({ scenarios: [parseScenarioFlag('errors:api=chekout,start=0s,duration=1m')] })).rejects.toThrow(/api "chekout" is not simulated; the apis are catalog/);
  });

  it('scenario files and flags are checked, naming the file, line and key', () => {
    const file = join(scratchDir('cdnkit-scenario-'), 'incidents.yaml');
    writeFileSync(file, 'scenarios:\n  - type: latency\n    pop: LHR\n    start: 2m\n    duration: soon\n  - type: outage\n    start: 1m\n    duration: 1m\n');
    const problems = problemsRaised(() => loadScenarioFile(file));
    expect(problems.map((p) => [p.line, p.key])).toEqual([
      [5, 'scenarios[0].duration'],
      [6, 'scenarios[1].type'],
    ]);
    expect(problems[0]!.message).toMatch(/not a duration/);
    writeFileSync(file, 'scenarios:\n  - { type: errors, api: checkout, start: 90s, duration: 2m, share: 0.6 }\n');
    expect(loadScenarioFile(file)).toEqual([{ type: 'errors', api: 'checkout', start: 90_000, duration: 120_000, share: 0.6 }]);
    expect(() => parseScenarioFlag('latency:start=1m,duration=1m')).toThrow(/--inject latency:start=1m,duration=1m: pop/);
    expect(() => parseScenarioFlag('outage:start=1m')).toThrow(/types: errors, latency, drop, auth, failover/);
  });

  it('a simulate hint must suit its field, with errors naming line and key', () => {
    const text = stringify({
      product: 'api',
      fields: [
        { name: 'elapsed_time', type: 'integer', roles: ['field'], fastly: 'x', varnish: 'x', simulate: { values: ['fast', 12] } },
        { name: 'api_name', roles: ['tag'], fastly: 'x', varnish: 'x', simulate: { range: { min: 3, max: 1 } } },
      ],
    });
    const problems = configErrors(text);
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.key}: ${p.message}`)).toEqual([
      expect.stringMatching(/^edge\.yaml:\d+: fields\[0\]\.simulate\.values: "elapsed_time" is integer, so its values must be whole numbers; got "fast"$/),
      expect.stringMatching(/^edge\.yaml:\d+: fields\[1\]\.simulate\.range: a range needs an integer or float field/),
      expect.stringMatching(/^edge\.yaml:\d+: fields\[1\]\.simulate\.range: min 3 is above max 1$/),
    ]);
  });

  it('the CLI writes the same bytes and truth for the same seed and start, and --help teaches with examples', () => {
    const dir = scratchDir('cdnkit-simulate-cli-');
    writeFileSync(join(dir, 'cdnkit.yaml'), stringify(referenceConfig));
    const run = (name: string) => {
      const result = spawnSync(
        process.execPath,
        [CLI, 'simulate', '-c', 'cdnkit.yaml', '--seed', '9', '--start', '2026-01-01T00:00:00Z', '--rate', '0', '--count', '3000', '--to', `${name}.txt`, '--truth', `${name}.json`, '--inject', 'errors:backend=cart-origin,start=0s,duration=10s'],
        { cwd: dir, encoding: 'utf8' },
      );
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/^sent 3000 requests: 3000 metric lines and \d+ error logs to a\.txt|^sent 3000 requests: 3000 metric lines and \d+ error logs to b\.txt/m);
      return [readFileSync(join(dir, `${name}.txt`)), readFileSync(join(dir, `${name}.json`), 'utf8')] as const;
    };
    const [linesA, truthA] = run('a');
    const [linesB, truthB] = run('b');
    expect(linesB.equals(linesA)).toBe(true);
    expect(truthB).toBe(truthA);
    const sent = linesA.toString('utf8').trim().split('\n').map((line) => ({ type: line.startsWith('{') ? 'logs' : 'metrics', line }) as SentLine);
    expect((JSON.parse(truthA) as { totals: unknown }).totals).toEqual(recount(sent, reference).totals);

    const help = spawnSync(process.execPath, [CLI, 'simulate', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const flag of ['-c, --config', '--seed', '--start', '--rate', '--duration', '--count', '--to', '--scenario', '--truth', '--format']) expect(help.stdout).toContain(flag);
    expect(help.stdout).toContain('Examples:');
    const bad = spawnSync(process.execPath, [CLI, 'simulate', '-c', join(dir, 'cdnkit.yaml'), '--start', 'yesterday'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--start: "yesterday" is not an ISO-8601 time');
  });
});
