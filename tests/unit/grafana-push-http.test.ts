// `cdnkit grafana push` as a user runs it (the built CLI), talking to a throwaway recording server
// on 127.0.0.1 that records every request and answers GETs with the documented answer shapes
// (support/grafana-answers.ts). It shows what the client sends — auth header, methods, paths, order,
// X-Disable-Provenance, nothing written on --dry-run or on a second run — and what it prints. It is
// not a Grafana and proves nothing about Grafana accepting the bodies: that is the compose stack's
// smoke test.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Json } from '../../grafana/push/compare.js';
import { referenceConfig } from '../../src/config/preset.js';
import { scratchDir } from '../support/scratch.js';
import { applyWrite, freshGrafana } from './support/grafana-answers.js';
import { statusServer, type Request, type StatusServer } from './support/status-server.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const SECRETS = {
  CDNKIT_GRAFANA_TOKEN: 'glsa_recorded_5ecret',
  CDNKIT_INFLUX_TOKEN: 'influx-5ecret-token',
  CDNKIT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T1/B1/SLACK5ECRET',
};
let config: string;
let server: StatusServer | undefined;

beforeAll(() => {
  const dir = scratchDir('cdnkit-push-');
  config = join(dir, 'cdnkit.yaml');
  writeFileSync(config, stringify(referenceConfig));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A recording server holding `answers`; writes change them as the documented answers say, unless `refuse` answers them. */
async function recordingServer(answers = freshGrafana(), refuse?: (r: Request) => { status: number; body: object } | undefined) {
  server = await statusServer((request) => {
    const refused = refuse?.(request);
    if (refused) return refused;
    if (request.method === 'GET') {
      const answer = answers.get(request.url);
      return answer === undefined ? { status: 404, body: { message: 'not found' } } : { status: 200, body: answer as object };
    }
    applyWrite(answers, { method: request.method as 'POST' | 'PUT', path: request.url, body: JSON.parse(request.body) as Json });
    return { status: 200, body: { message: 'ok' } };
  });
  return server;
}

function cdnkit(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CDNKIT_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'grafana', 'push', '-c', config, ...args], { env: { ...clean, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const line = (r: Request) => `${r.method} ${r.url}`;
const writes = (requests: readonly Request[]) => requests.filter((r) => r.method !== 'GET');

describe('grafana push over HTTP, against a recording server', { timeout: 30_000 }, () => {
  it('reads every resource first, then writes in dependency order with the token, provenance header only on alerting writes', async () => {
    const s = await recordingServer();
    const run = await cdnkit(['--url', s.url], SECRETS);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const firstWrite = s.requests.findIndex((r) => r.method !== 'GET');
    expect(s.requests.slice(0, firstWrite).map(line)).toEqual([
      'GET /api/folders/cdnkit',
      'GET /api/datasources/uid/cdnkit-influxdb',
      'GET /api/datasources/uid/cdnkit-elasticsearch',
      'GET /api/datasources/uid/cdnkit-prometheus',
      'GET /api/dashboards/uid/cdnkit-overview',
      'GET /api/dashboards/uid/cdnkit-product-detail',
      'GET /api/dashboards/uid/cdnkit-error-logs',
      'GET /api/dashboards/uid/cdnkit-pipeline-health',
      'GET /api/v1/provisioning/templates/cdnkit',
      'GET /api/v1/provisioning/contact-points?name=cdnkit-slack',
      'GET /api/v1/provisioning/policies',
      'GET /api/v1/provisioning/folder/cdnkit/rule-groups/cdnkit',
    ]);
    expect(s.requests.slice(firstWrite).map((r) => `${line(r)} ${r.headers['x-disable-provenance'] ?? '-'}`)).toEqual([
      'POST /api/folders -',
      'POST /api/datasources -',
      'POST /api/datasources -',
      'POST /api/datasources -',
      'POST /api/dashboards/db -',
      'POST /api/dashboards/db -',
      'POST /api/dashboards/db -',
      'POST /api/dashboards/db -',
      'PUT /api/v1/provisioning/templates/cdnkit true',
      'POST /api/v1/provisioning/contact-points true',
      'PUT /api/v1/provisioning/policies true',
      'PUT /api/v1/provisioning/folder/cdnkit/rule-groups/cdnkit true',
    ]);
    for (const r of s.requests) expect(r.headers.authorization).toBe(`Bearer ${SECRETS.CDNKIT_GRAFANA_TOKEN}`);
    for (const r of writes(s.requests)) expect(r.headers['content-type']).toBe('application/json');
    // The secrets went where Grafana takes them...
    expect(JSON.parse(writes(s.requests)[1]!.body)).toMatchObject({ secureJsonData: { httpHeaderValue1: `Token ${SECRETS.CDNKIT_INFLUX_TOKEN}` } });
    expect(JSON.parse(writes(s.requests)[9]!.body)).toMatchObject({ settings: { url: SECRETS.CDNKIT_SLACK_WEBHOOK_URL } });
    // ...and nowhere in what the user sees.
    for (const secret of Object.values(SECRETS)) expect(run.stdout + run.stderr).not.toContain(secret);
    expect(run.stdout).toContain('created   dashboard cdnkit-overview');
    expect(run.stdout).toContain('12 created, 0 updated, 0 unchanged');
  });

  it('a second run only reads, and says nothing changed', async () => {
    const answers = freshGrafana();
    await recordingServer(answers);
    expect((await cdnkit(['--url', server!.url], SECRETS)).code).toBe(0);
    await server!.close();
    const s = await recordingServer(answers);
    const again = await cdnkit(['--url', s.url], SECRETS);
    expect(again.code).toBe(0);
    expect(s.requests.map((r) => r.method)).toEqual(Array(12).fill('GET'));
    expect(again.stdout).toContain('nothing changed: all 12 resources already match');
  });

  it('--dry-run reads and prints what would change, with the keys that differ, and writes nothing', async () => {
    const answers = freshGrafana();
    await recordingServer(answers);
    await cdnkit(['--url', server!.url], SECRETS);
    await server!.close();
    (answers.get('/api/folders/cdnkit') as { title: string }).title = 'Renamed by hand';
    const s = await recordingServer(answers);
    const dry = await cdnkit(['--url', s.url, '--dry-run'], { CDNKIT_GRAFANA_TOKEN: SECRETS.CDNKIT_GRAFANA_TOKEN });
    expect(dry.code).toBe(0);
    expect(writes(s.requests)).toEqual([]);
    expect(dry.stdout).toContain('update    folder cdnkit (CDN)\n            title: "Renamed by hand" -> "CDN"');
    expect(dry.stdout).toContain('unchanged dashboard cdnkit-overview');
    expect(dry.stdout).toContain('dry run: 0 to create, 1 to update, 11 unchanged; nothing was written');
  });

  it('authenticates with basic auth from the environment when there is no token', async () => {
    const s = await recordingServer();
    const run = await cdnkit(['--url', `${s.url}/`, '--dry-run'], { CDNKIT_GRAFANA_USER: 'admin', CDNKIT_GRAFANA_PASSWORD: 'basic-5ecret' });
    expect(run.code).toBe(0);
    expect(s.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('admin:basic-5ecret').toString('base64')}`);
    expect(run.stdout).toContain('dry run: 12 to create');
    expect(run.stdout + run.stderr).not.toContain('basic-5ecret');
  });

  it('stops at the first write Grafana refuses, exits 1, and redacts the secret Grafana quoted back', async () => {
    const s = await recordingServer(freshGrafana(), (r) =>
      r.method === 'POST' && r.url === '/api/v1/provisioning/contact-points' ? { status: 400, body: { message: `invalid url ${SECRETS.CDNKIT_SLACK_WEBHOOK_URL}` } } : undefined,
    );
    const run = await cdnkit(['--url', s.url], SECRETS);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('POST /api/v1/provisioning/contact-points: 400 invalid url [redacted]');
    expect(writes(s.requests).map(line).at(-1)).toBe('POST /api/v1/provisioning/contact-points');
    for (const secret of Object.values(SECRETS)) expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it('writes nothing while a secret a write needs is not in the environment, and names it', async () => {
    const s = await recordingServer();
    const run = await cdnkit(['--url', s.url], { CDNKIT_GRAFANA_TOKEN: SECRETS.CDNKIT_GRAFANA_TOKEN });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('nothing was written: set CDNKIT_INFLUX_TOKEN, CDNKIT_SLACK_WEBHOOK_URL first');
    expect(writes(s.requests)).toEqual([]);
  });

  it('usage errors exit 2: no credentials, a URL with credentials in it, not a URL', async () => {
    const none = await cdnkit(['--url', 'http://127.0.0.1:9'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no credentials: set $CDNKIT_GRAFANA_TOKEN');
    const inUrl = await cdnkit(['--url', 'http://admin:pw@127.0.0.1:9'], SECRETS);
    expect(inUrl.code).toBe(2);
    expect(inUrl.stderr).toContain('put no credentials in the URL');
    expect((await cdnkit(['--url', 'grafana'], SECRETS)).code).toBe(2);
    expect((await cdnkit(['--bogus'], SECRETS)).code).toBe(2);
  });
});
