// A Fastly edge for tests: the generated vcl_log snippet inside a minimal service, run by falco's
// simulator in front of a tiny origin. send() answers with the lines the snippet's `log`
// statements emitted, exactly as Fastly would ship them to the syslog endpoints.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastlyLogSnippet } from '../../../generators/fastly-vcl.js';
import type { Field, KitConfig } from '../../../src/config/schema.js';
import { startSimulator, type Simulator } from './falco.js';
import type { HostileValue } from './hostile.js';
import { startOrigin, type Origin } from './origin.js';

/** falco's stand-in for req.service_id. */
export const FALCO_SERVICE_ID = 'falco-virtual-service-id';

export interface FastlyEdge {
  /** The service VCL falco runs, for linting. */
  vclFile: string;
  send(path: string, headers: Record<string, string>): Promise<{ status: number; logs: string[] }>;
  stop(): Promise<void>;
}

/** The config's fields read from request headers: where tests put hostile values. */
export function requestHeaderFields(config: KitConfig): Field[] {
  return config.fields.filter((f) => /^req\.http\./.test(f.fastly ?? ''));
}

const headerOf = (field: Field) => field.fastly!.replace(/^req\.http\./, '');

export function serviceVcl(config: KitConfig, originPort: number, snippet = fastlyLogSnippet(config)): string {
  const template = readFileSync(fileURLToPath(new URL('./fastly-service.vcl', import.meta.url)), 'utf8');
  const decode = requestHeaderFields(config)
    .map(headerOf)
    .map((h) => `  if (req.http.X-Enc-${h}) { set req.http.${h} = urldecode(req.http.X-Enc-${h}); }`)
    .join('\n');
  return template.replace('__ORIGIN_PORT__', String(originPort)).replace('__DECODE__', decode).replace('__SNIPPET__', snippet);
}

/** Headers that put `hostile` into every header field; bytes HTTP cannot carry go percent-encoded. */
export function hostileHeaders(config: KitConfig, hostile: HostileValue): Record<string, string> {
  const headers: Record<string, string> = {};
  if (hostile.value === undefined) return headers;
  for (const header of requestHeaderFields(config).map(headerOf)) {
    if (hostile.needsEncoding) headers[`X-Enc-${header}`] = encodeURIComponent(hostile.value);
    // Node writes header strings as latin1; this sends the value's UTF-8 bytes unchanged.
    else headers[header] = Buffer.from(hostile.value, 'utf8').toString('latin1');
  }
  return headers;
}

/** `snippet`: the vcl_log snippet to run, when a test must change what falco cannot simulate. */
export async function startFastlyEdge(config: KitConfig, snippet = fastlyLogSnippet(config)): Promise<FastlyEdge> {
  const dir = mkdtempSync(join(tmpdir(), 'cdnkit-fastly-'));
  const origin: Origin = await startOrigin();
  const vclFile = join(dir, 'main.vcl');
  writeFileSync(vclFile, serviceVcl(config, origin.port, snippet));
  let simulator: Simulator;
  try {
    simulator = await startSimulator(vclFile);
  } catch (error) {
    await origin.close();
    throw error;
  }
  return {
    vclFile,
    send: (path, headers) => simulator.send(path, headers),
    stop: async () => {
      simulator.stop();
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
