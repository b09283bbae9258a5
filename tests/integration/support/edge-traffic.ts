// Real CDN output for the tests downstream of the edge (sinks, bridges): the same requests, with
// hostile header values, through the generated Fastly snippet in falco and the generated Varnish
// files in a real varnishd, collected exactly as each edge ships its lines to the receivers.
import type { KitConfig } from '../../../src/config/schema.js';
import { hostileHeaders, startFastlyEdge } from './fastly-edge.js';
import { HOSTILE_VALUES, type HostileValue } from './hostile.js';
import { startVarnishEdge } from './varnish-edge.js';
import { eventually } from './wait.js';

export type Flavour = 'fastly' | 'varnish';

export interface EdgeLines {
  flavour: Flavour;
  /** Error-log lines, one per response at or above the threshold. */
  json: string[];
  /** Line-protocol lines, one per request. */
  ilp: string[];
}

export interface TrafficRequest {
  status: number;
  hostile: HostileValue;
}

/** Every hostile value both edges can carry in a header, for a success, a client and a server error. */
export function trafficPlan(): TrafficRequest[] {
  const carried = HOSTILE_VALUES.filter((h) => !h.needsEncoding && Buffer.byteLength(h.value ?? '') <= 2048);
  return carried.flatMap((hostile) => [200, 404, 503].map((status) => ({ status, hostile })));
}

/** Fields typed ip get a real address: a hostile value there is a mapping error, tested elsewhere. */
const ADDRESS = '10.1.2.3';
const headerOf = (source: string | undefined) => /^req\.http\.([A-Za-z0-9_-]+)$/.exec(source ?? '')?.[1];
const ipHeaders = (config: KitConfig, source: (f: KitConfig['fields'][number]) => string | undefined) =>
  new Set(config.fields.filter((f) => f.type === 'ip').flatMap((f) => headerOf(source(f)) ?? []));

export async function fastlyTraffic(config: KitConfig, plan: TrafficRequest[]): Promise<EdgeLines> {
  const edge = await startFastlyEdge(config);
  const addresses = ipHeaders(config, (f) => f.fastly);
  try {
    const lines: EdgeLines = { flavour: 'fastly', json: [], ilp: [] };
    for (const { status, hostile } of plan) {
      const headers = hostileHeaders(config, hostile);
      for (const header of addresses) headers[header] = ADDRESS;
      const { logs } = await edge.send(`/status/${status}`, headers);
      for (const line of logs) (line.includes(` ${config.cdn.fastly.logsEndpoint} :: `) ? lines.json : lines.ilp).push(line);
    }
    return lines;
  } finally {
    await edge.stop();
  }
}

export async function varnishTraffic(config: KitConfig, plan: TrafficRequest[]): Promise<EdgeLines> {
  const edge = await startVarnishEdge(config);
  try {
    const vclSource = (f: KitConfig['fields'][number]) => (typeof f.varnish === 'string' ? f.varnish : f.varnish && 'vcl' in f.varnish ? f.varnish.vcl : undefined);
    const headers = config.fields.flatMap((f) => headerOf(vclSource(f)) ?? []);
    const addresses = ipHeaders(config, vclSource);
    for (const { status, hostile } of plan) {
      const valueFor = (h: string) => (addresses.has(h) ? ADDRESS : hostile.value);
      const lines = headers.flatMap((h) => {
        const value = valueFor(h);
        return value === undefined ? [] : [Buffer.concat([Buffer.from(`${h}: `), Buffer.from(value, 'utf8'), Buffer.from('\r\n')])];
      });
      const request = Buffer.concat([Buffer.from(`GET /status/${status} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n`), ...lines, Buffer.from('\r\n')]);
      await edge.send(request);
    }
    const errors = plan.filter((r) => r.status >= config.errors.minStatus).length;
    await eventually(
      'varnishncsa to ship every line',
      () => edge.metrics.lines.length >= plan.length && edge.logs.lines.length >= errors,
      20_000,
      edge.output,
    );
    return { flavour: 'varnish', json: edge.logs.lines.map((l) => l.toString('utf8')), ilp: edge.metrics.lines.map((l) => l.toString('utf8')) };
  } finally {
    await edge.stop();
  }
}
