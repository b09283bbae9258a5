// The rules that make Grafana refuse a resource or stop reconciling, checked on the bodies push
// would send before it sends any: a refused write half-way would leave a Grafana with dashboards
// pointing at datasources that were never created.
import type { Json } from './compare.js';
import type { PushResource } from './resources.js';

export const RULE_UID = /^[a-zA-Z0-9_-]{1,40}$/;
export const MAX_DATASOURCE_URL = 255;

type JsonObject = { [key: string]: Json };
const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined) => (typeof v === 'string' ? v : undefined);

/** Every datasource uid a dashboard names, anywhere in it. */
export function datasourceUids(value: Json, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => datasourceUids(v, found));
  else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'datasource' && isObject(v) && typeof v.uid === 'string') found.add(v.uid);
      else datasourceUids(v, found);
    }
  }
  return found;
}

/** What Grafana would refuse in this set of resources; empty when it would take them all. */
export function pushSetProblems(resources: PushResource[]): string[] {
  const problems: string[] = [];
  const of = (kind: PushResource['kind']) => resources.filter((r) => r.kind === kind);
  const folders = new Set(of('folder').map((r) => r.id));
  const datasources = of('datasource').map((r) => r.desired as JsonObject);
  const knownDatasources = new Set([...datasources.map((d) => str(d.uid) ?? ''), '__expr__']);
  if (datasources.filter((d) => d.isDefault === true).length > 1) problems.push('more than one datasource is the default');
  for (const d of datasources) {
    if ((str(d.url) ?? '').length > MAX_DATASOURCE_URL) problems.push(`datasource ${str(d.uid)}: url longer than ${MAX_DATASOURCE_URL} characters`);
  }
  const panels = new Map<string, Set<number>>();
  for (const r of of('dashboard')) {
    const { dashboard, folderUid } = r.desired as { dashboard: JsonObject; folderUid: string };
    if (!folders.has(folderUid)) problems.push(`dashboard ${r.id}: folder ${folderUid} is not pushed`);
    for (const uid of datasourceUids(dashboard)) if (!knownDatasources.has(uid)) problems.push(`dashboard ${r.id}: datasource ${uid} is not pushed`);
    panels.set(r.id, new Set(((dashboard.panels ?? []) as JsonObject[]).map((p) => p.id as number)));
  }
  const templates = of('template').map((r) => str((r.desired as JsonObject).template) ?? '');
  const contactPoints = of('contact point').map((r) => r.desired as JsonObject);
  for (const cp of contactPoints) {
    for (const used of JSON.stringify(cp.settings).matchAll(/template \\"([^"\\]+)\\"/g)) {
      if (!templates.some((t) => t.includes(`define "${used[1]}"`))) problems.push(`contact point ${str(cp.uid)}: template "${used[1]}" is not defined`);
    }
  }
  for (const r of of('policy')) {
    const receiver = str((r.desired as JsonObject).receiver);
    if (!contactPoints.some((cp) => cp.name === receiver)) problems.push(`policy: receiver ${receiver} is not pushed`);
  }
  for (const group of of('rule group')) {
    const g = group.desired as JsonObject;
    if (!folders.has(str(g.folderUid) ?? '')) problems.push(`rule group ${group.id}: folder ${str(g.folderUid)} is not pushed`);
    const uids = new Set<string>();
    for (const rule of (g.rules ?? []) as JsonObject[]) {
      const uid = str(rule.uid) ?? '';
      if (!RULE_UID.test(uid)) problems.push(`rule "${uid}": uid must match ${RULE_UID.source}`);
      if (uids.has(uid)) problems.push(`rule ${uid}: uid used twice`);
      uids.add(uid);
      const data = (rule.data ?? []) as JsonObject[];
      for (const q of data) if (!knownDatasources.has(str(q.datasourceUid) ?? '')) problems.push(`rule ${uid}: datasource ${str(q.datasourceUid)} is not pushed`);
      if (!data.some((q) => q.refId === rule.condition)) problems.push(`rule ${uid}: condition ${str(rule.condition)} is none of its queries`);
      const annotations = (rule.annotations ?? {}) as JsonObject;
      const dashboard = str(annotations.__dashboardUid__);
      if (dashboard !== undefined && !panels.get(dashboard)?.has(Number(annotations.__panelId__))) {
        problems.push(`rule ${uid}: panel ${dashboard}/${str(annotations.__panelId__)} is not pushed`);
      }
    }
  }
  return problems;
}
