// The plan of a push: for each resource, from Grafana's current answer, whether it is created,
// updated or left alone, what differs, and the request that would do it. Pure: the same answers
// give the same plan, and a plan made on the state its own requests leave is empty.
import { changes, type Change, type Json } from './compare.js';
import { resolve, type Environment, type HttpRequest, type PushResource } from './resources.js';

export type Action = 'create' | 'update' | 'unchanged';

export interface PlanStep {
  resource: PushResource;
  action: Action;
  /** What differs, for an update (secrets as their environment variable, never their value). */
  changes: Change[];
  /** The write; absent when unchanged or when a secret it needs is not in the environment. */
  request?: HttpRequest;
  /** Environment variables the write needs and that are not set. */
  missing: string[];
}

export interface PlanOptions {
  env: Environment;
  /** Write every resource holding a secret even when nothing else differs (after rotating one). */
  resendSecrets?: boolean;
}

/** Answers by a resource's read path: undefined for a 404. */
export type Answers = Map<string, Json | undefined>;

const secretMark = (envs: string[]) => `(secret from $${envs.join(', $')})`;
const envsOf = (value: PushResource['secrets'][number]['value']) => (Array.isArray(value) ? value : [value]).flatMap((p) => (typeof p === 'string' ? [] : [p.env]));

function setPath(body: Json, path: string, value: string): Json {
  const [head, ...rest] = path.split('.');
  const object = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, Json>;
  return { ...object, [head!]: rest.length === 0 ? value : setPath(object[head!] ?? {}, rest.join('.'), value) };
}

export function planStep(resource: PushResource, answer: Json | undefined, options: PlanOptions): PlanStep {
  const state = resource.state(answer);
  const found =
    state === undefined
      ? []
      : [
          ...changes(resource.desired, state),
          ...resource.secrets
            .filter((s) => options.resendSecrets || !s.isSet(state))
            .map((s): Change => ({ path: s.path, kind: s.isSet(state) ? 'changed' : 'added', to: secretMark(envsOf(s.value)) })),
        ];
  const action: Action = state === undefined ? 'create' : found.length > 0 ? 'update' : 'unchanged';
  if (action === 'unchanged') return { resource, action, changes: [], missing: [] };
  // A resource holding secrets is always written with all of them.
  let request = resource.request(answer, state);
  const missing: string[] = [];
  for (const secret of resource.secrets) {
    const resolved = resolve(secret.value, options.env);
    if ('missing' in resolved) missing.push(...resolved.missing);
    else request = { ...request, body: setPath(request.body, secret.path, resolved.value) };
  }
  return { resource, action, changes: found, missing, ...(missing.length === 0 ? { request } : {}) };
}

export function plan(resources: PushResource[], answers: Answers, options: PlanOptions): PlanStep[] {
  return resources.map((resource) => planStep(resource, answers.get(resource.read), options));
}

const MAX_CHANGES_SHOWN = 8;
const MAX_VALUE = 60;

function shown(value: Json | undefined): string {
  const text = value === undefined ? 'absent' : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function changeLine(c: Change): string {
  switch (c.kind) {
    case 'added':
      return `${c.path}: ${typeof c.to === 'string' && c.to.startsWith('(secret') ? c.to : `added ${shown(c.to)}`}`;
    case 'removed':
      return `${c.path}: removed (${shown(c.from)})`;
    case 'changed':
      return `${c.path}: ${typeof c.to === 'string' && c.to.startsWith('(secret') ? `resent ${c.to}` : `${shown(c.from)} -> ${shown(c.to)}`}`;
  }
}

/** One line per resource and a compact list of what differs; never a secret's value. */
export function describeStep(step: PlanStep, done: boolean): string[] {
  const verb = { create: done ? 'created' : 'create', update: done ? 'updated' : 'update', unchanged: 'unchanged' }[step.action];
  const r = step.resource;
  const lines = [`${verb.padEnd(9)} ${r.kind} ${r.id}${r.title && r.title !== r.id ? ` (${r.title})` : ''}`];
  for (const c of step.changes.slice(0, MAX_CHANGES_SHOWN)) lines.push(`            ${changeLine(c)}`);
  if (step.changes.length > MAX_CHANGES_SHOWN) lines.push(`            … and ${step.changes.length - MAX_CHANGES_SHOWN} more`);
  if (step.missing.length > 0) lines.push(`            needs the environment variable(s) ${step.missing.join(', ')}`);
  return lines;
}

export function summary(steps: PlanStep[]): Record<Action, number> {
  const counts: Record<Action, number> = { create: 0, update: 0, unchanged: 0 };
  for (const s of steps) counts[s.action]++;
  return counts;
}
