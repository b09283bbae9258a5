// The resources `cdnkit grafana push` keeps in a Grafana, in the order they depend on each other,
// each as its HTTP API has it: where to read it, what part of the answer is compared, and the
// request that creates or updates it. They are the same objects the provisioning files are written
// from (grafana/index.ts); only the shape changes here, at the edge, as generators/grafana.ts does
// for the files:
//   - datasources lose the file-only `editable`, never claim the org's default (an existing
//     Grafana's default is its owner's; every panel and rule names its datasource by uid), and
//     send their secrets in secureJsonData, which Grafana never answers back (only secureJsonFields);
//   - the folder is created by uid and title (files name it by title only);
//   - the notification policy becomes one route of the org's policy tree, matching the label every
//     cdnkit rule carries, so the routes the Grafana already has are kept (a file replaces the tree);
//   - the rules travel as their rule group (interval in seconds), so a rule no longer generated
//     leaves the group too.
import { RuleGroupBuilder, type NotificationPolicy } from '@grafana/grafana-foundation-sdk/alerting';
import type { KitConfig } from '../../src/config/schema.js';
import { FOLDER_UID, RULE_GROUP, RULE_MARKER } from '../alerts.js';
import { isEnvReference, type Interpolated } from '../datasources.js';
import { parseDuration } from '../durations.js';
import type { GrafanaResources } from '../index.js';
import { toJson, type Json } from './compare.js';

export type ResourceKind = 'folder' | 'datasource' | 'dashboard' | 'template' | 'contact point' | 'policy' | 'rule group';

export interface HttpRequest {
  method: 'POST' | 'PUT';
  path: string;
  body: Json;
}

/** A secret: sent from the environment, never read back (Grafana answers only whether one is set). */
export interface SecretField {
  /** Dotted path in the request body, e.g. secureJsonData.httpHeaderValue1. */
  path: string;
  value: Interpolated;
  isSet: (state: Json) => boolean;
}

export interface PushResource {
  kind: ResourceKind;
  /** What the resource is known by: uid, or name for the template and policy. */
  id: string;
  title: string;
  /** GET path of its current state. */
  read: string;
  /** The GET answer (undefined: 404) to the resource's current state; undefined when it does not exist. */
  state: (answer: Json | undefined) => Json | undefined;
  /** Compared with the state: environment references resolved, secrets left out. */
  desired: Json;
  secrets: SecretField[];
  /** The write that makes Grafana hold `desired`, secrets set at their paths. */
  request: (answer: Json | undefined, state: Json | undefined) => HttpRequest;
}

export type Environment = Record<string, string | undefined>;

/** Provisioning API writes: without this header Grafana marks the resources as provisioned, not editable in the UI. */
export const PROVISIONING_PREFIX = '/api/v1/provisioning/';

const isObject = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
const field = (v: Json | undefined, key: string): Json | undefined => (isObject(v) ? v[key] : undefined);

/** An interpolated value with its environment references read, or the names of those unset. */
export function resolve(value: Interpolated, env: Environment): { value: string } | { missing: string[] } {
  const parts = Array.isArray(value) ? value : [value];
  const missing = parts.filter(isEnvReference).map((p) => p.env).filter((name) => !env[name]);
  if (missing.length > 0) return { missing };
  return { value: parts.map((p) => (typeof p === 'string' ? p : env[p.env]!)).join('') };
}

export class PushConfigError extends Error {}

function resolvedOrThrow(value: Interpolated, what: string, env: Environment): string {
  const resolved = resolve(value, env);
  if ('missing' in resolved) throw new PushConfigError(`${what} is read from the environment variable ${resolved.missing.join(', ')}, which is not set`);
  return resolved.value;
}

const encode = encodeURIComponent;

function datasourceResources(resources: GrafanaResources, env: Environment): PushResource[] {
  return resources.datasources.map((ds) => {
    const { editable: _fileOnly, isDefault: _ownersChoice, secureJsonData, basicAuthUser, ...plain } = ds;
    const desired = toJson({
      ...plain,
      ...(basicAuthUser === undefined ? {} : { basicAuthUser: resolvedOrThrow(basicAuthUser, `basicAuthUser of datasource ${ds.uid}`, env) }),
    });
    const read = `/api/datasources/uid/${encode(ds.uid)}`;
    return {
      kind: 'datasource',
      id: ds.uid,
      title: ds.name,
      read,
      state: (answer) => answer,
      desired,
      secrets: Object.entries(secureJsonData ?? {}).map(([key, value]) => ({
        path: `secureJsonData.${key}`,
        value,
        isSet: (state) => field(field(state, 'secureJsonFields'), key) === true,
      })),
      request: (answer) => {
        // Whoever made a datasource the default keeps it so; a new one is not.
        const body = toJson({ ...(desired as object), isDefault: field(answer, 'isDefault') === true });
        return answer === undefined ? { method: 'POST', path: '/api/datasources', body } : { method: 'PUT', path: read, body };
      },
    };
  });
}

/** The cdnkit route of a policy tree: the one whose only matcher is the rules' marker label. */
const MARKER_MATCHERS: string[][] = [[RULE_MARKER.name, '=', RULE_MARKER.value]];
const isCdnkitRoute = (route: Json) => JSON.stringify(field(route, 'object_matchers')) === JSON.stringify(MARKER_MATCHERS);

function policyResource(policy: NotificationPolicy): PushResource {
  const route = toJson({ ...policy, object_matchers: MARKER_MATCHERS });
  const routesOf = (tree: Json | undefined): Json[] => {
    const routes = field(tree, 'routes');
    return Array.isArray(routes) ? routes : [];
  };
  return {
    kind: 'policy',
    id: `${RULE_MARKER.name}=${RULE_MARKER.value}`,
    title: `route to ${policy.receiver ?? ''}`,
    read: `${PROVISIONING_PREFIX}policies`,
    state: (tree) => routesOf(tree).find(isCdnkitRoute),
    desired: route,
    secrets: [],
    request: (tree) => {
      const routes = routesOf(tree);
      const at = routes.findIndex(isCdnkitRoute);
      // First among the routes, so a catch-all route the Grafana already has does not take cdnkit's alerts.
      const merged = at >= 0 ? routes.map((r, i) => (i === at ? route : r)) : [route, ...routes];
      const { provenance: _readOnly, ...root } = isObject(tree) ? tree : {};
      return { method: 'PUT', path: `${PROVISIONING_PREFIX}policies`, body: { ...root, routes: merged } };
    },
  };
}

/** Everything push keeps, in dependency order: folder, datasources, dashboards, template, contact point, policy, rules. */
export function pushResources(config: KitConfig, resources: GrafanaResources, env: Environment): PushResource[] {
  const { contactPoint, template, policy, rules } = resources.alerts;
  const folder = { uid: FOLDER_UID, title: config.grafana.folder };
  const folderPath = `/api/folders/${encode(folder.uid)}`;
  const { url: webhook, ...slackSettings } = contactPoint.settings as Record<string, Interpolated>;
  const contactPointUid = contactPoint.uid ?? '';
  const contactPointBody = toJson({ ...contactPoint, settings: slackSettings });
  const templatePath = `${PROVISIONING_PREFIX}templates/${encode(template.name ?? '')}`;
  const group = toJson(
    new RuleGroupBuilder(RULE_GROUP)
      .folderUid(FOLDER_UID)
      .interval(parseDuration(config.grafana.alerts.evaluationInterval) / 1000)
      .rules(rules.map((rule) => ({ build: () => rule })))
      .build(),
  );
  const groupPath = `${PROVISIONING_PREFIX}folder/${encode(FOLDER_UID)}/rule-groups/${encode(RULE_GROUP)}`;
  // Grafana puts rules in the org of the request, whatever orgID says: not compared.
  const groupCompared = { ...(group as object), rules: (field(group, 'rules') as Json[]).map((r) => ({ ...(r as object), orgID: undefined })) };
  return [
    {
      kind: 'folder',
      id: folder.uid,
      title: folder.title,
      read: folderPath,
      state: (answer) => answer,
      desired: folder,
      secrets: [],
      request: (answer) =>
        answer === undefined ? { method: 'POST', path: '/api/folders', body: folder } : { method: 'PUT', path: folderPath, body: { title: folder.title, overwrite: true } },
    },
    ...datasourceResources(resources, env),
    ...resources.dashboards.map(({ dashboard }): PushResource => {
      const desired = { dashboard: toJson(dashboard), folderUid: FOLDER_UID };
      return {
        kind: 'dashboard',
        id: dashboard.uid ?? '',
        title: dashboard.title ?? '',
        read: `/api/dashboards/uid/${encode(dashboard.uid ?? '')}`,
        // The answer is { dashboard, meta }; the folder is in meta.
        state: (answer) => (answer === undefined ? undefined : { dashboard: field(answer, 'dashboard') ?? null, folderUid: field(field(answer, 'meta'), 'folderUid') ?? null }),
        desired,
        secrets: [],
        request: () => ({ method: 'POST', path: '/api/dashboards/db', body: { ...desired, overwrite: true, message: 'cdnkit grafana push' } }),
      };
    }),
    {
      kind: 'template',
      id: template.name ?? '',
      title: 'message template',
      read: templatePath,
      state: (answer) => answer,
      desired: toJson({ name: template.name, template: template.template }),
      secrets: [],
      request: () => ({ method: 'PUT', path: templatePath, body: toJson({ template: template.template }) }),
    },
    {
      kind: 'contact point',
      id: contactPointUid,
      title: contactPoint.name ?? '',
      read: `${PROVISIONING_PREFIX}contact-points?name=${encode(contactPoint.name ?? '')}`,
      // The answer lists every integration of that name; ours is the one with our uid.
      state: (answer) => (Array.isArray(answer) ? answer.find((c) => field(c, 'uid') === contactPointUid) : undefined),
      desired: contactPointBody,
      // Grafana answers a Slack URL as [REDACTED]: set or not is all it says.
      secrets: webhook === undefined ? [] : [{ path: 'settings.url', value: webhook, isSet: (state) => typeof field(field(state, 'settings'), 'url') === 'string' && field(field(state, 'settings'), 'url') !== '' }],
      request: (_answer, state) =>
        state === undefined
          ? { method: 'POST', path: `${PROVISIONING_PREFIX}contact-points`, body: contactPointBody }
          : { method: 'PUT', path: `${PROVISIONING_PREFIX}contact-points/${encode(contactPointUid)}`, body: contactPointBody },
    },
    policyResource(policy),
    {
      kind: 'rule group',
      id: `${FOLDER_UID}/${RULE_GROUP}`,
      title: `${rules.length} alert rules`,
      read: groupPath,
      state: (answer) => answer,
      desired: toJson(groupCompared),
      secrets: [],
      // PUT creates the group or replaces it: rules in it that cdnkit no longer generates are deleted.
      request: () => ({ method: 'PUT', path: groupPath, body: group }),
    },
  ];
}
