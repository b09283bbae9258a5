// A small client of Grafana's HTTP API: JSON in and out, one authentication header, 404 read as
// "absent", and X-Disable-Provenance on provisioning writes so what push creates stays editable in
// the UI. It reads and writes only what the plan says, in the plan's order.
import type { Json } from './compare.js';
import { PROVISIONING_PREFIX, type HttpRequest } from './resources.js';
import { summary, type PlanStep } from './plan.js';

export type GrafanaAuth = { token: string } | { user: string; password: string };

export class GrafanaApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    detail: string,
  ) {
    const hint =
      status === 401
        ? ' (the token or password was refused)'
        : status === 403
          ? ' (the token or user lacks a permission: datasources need the Admin role, folders, dashboards and alerting at least Editor)'
          : status === 409 || status === 412
            ? ' (a resource with the same name or title exists under another uid)'
            : '';
    super(`${method} ${path}: ${status}${detail ? ` ${detail}` : ''}${hint}`);
  }
}

export interface GrafanaClient {
  get(path: string): Promise<Json | undefined>;
  send(request: HttpRequest): Promise<Json | undefined>;
}

const TIMEOUT_MS = 30_000;

export function grafanaClient(baseUrl: string, auth: GrafanaAuth): GrafanaClient {
  const base = baseUrl.replace(/\/+$/, '');
  const authorization = 'token' in auth ? `Bearer ${auth.token}` : `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  async function call(method: string, path: string, body?: Json): Promise<{ status: number; json: Json | undefined }> {
    const headers: Record<string, string> = { Authorization: authorization, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && path.startsWith(PROVISIONING_PREFIX)) headers['X-Disable-Provenance'] = 'true';
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      const cause = (error as Error & { cause?: Error }).cause;
      throw new Error(`${method} ${path}: Grafana at ${base} did not answer (${cause?.message ?? (error as Error).message})`);
    }
    const text = await response.text();
    let json: Json | undefined;
    try {
      json = text ? (JSON.parse(text) as Json) : undefined;
    } catch {
      json = undefined;
    }
    if (method === 'GET' && response.status === 404) return { status: 404, json: undefined };
    if (!response.ok) {
      const message = json && typeof json === 'object' && !Array.isArray(json) && typeof json.message === 'string' ? json.message : text.slice(0, 300);
      throw new GrafanaApiError(method, path, response.status, message);
    }
    return { status: response.status, json };
  }
  return {
    get: async (path) => (await call('GET', path)).json,
    send: async ({ method, path, body }) => (await call(method, path, body)).json,
  };
}

/** Reads the current state of every resource, one GET each, in order. */
export async function readAnswers(client: GrafanaClient, reads: string[]): Promise<Map<string, Json | undefined>> {
  const answers = new Map<string, Json | undefined>();
  for (const path of reads) if (!answers.has(path)) answers.set(path, await client.get(path));
  return answers;
}

/** Sends the plan's writes in order, reporting each step when it is done. Stops at the first error. */
export async function applyPlan(client: GrafanaClient, steps: PlanStep[], done: (step: PlanStep) => void): Promise<ReturnType<typeof summary>> {
  const incomplete = steps.filter((s) => s.action !== 'unchanged' && !s.request);
  if (incomplete.length > 0) throw new Error(`nothing was written: set ${[...new Set(incomplete.flatMap((s) => s.missing))].join(', ')} first`);
  for (const step of steps) {
    if (step.request) await client.send(step.request);
    done(step);
  }
  return summary(steps);
}
