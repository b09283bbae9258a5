// Grafana's GET answers after a set of writes, in the shapes its HTTP API documents (Folder,
// Dashboard, Data source and Alerting provisioning HTTP API pages): what a read returns carries more
// than what was written (ids, versions, `updated`, query-model defaults) and less (secrets: only
// secureJsonFields, a Slack URL as [REDACTED]). It is a table of documented answer shapes for the
// push tests, not a Grafana: whether Grafana accepts the bodies is the compose stack's smoke test.
import type { Json } from '../../../grafana/push/compare.js';
import type { HttpRequest } from '../../../grafana/push/resources.js';

type JsonObject = { [key: string]: Json };
const obj = (v: Json | undefined): JsonObject => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {});

/** A fresh org: nothing of cdnkit's, and Grafana's default notification policy tree. */
export function freshGrafana(): Map<string, Json | undefined> {
  return new Map<string, Json | undefined>([
    ['/api/v1/provisioning/contact-points?name=cdnkit-slack', []],
    ['/api/v1/provisioning/policies', { receiver: 'grafana-default-email', group_by: ['grafana_folder', 'alertname'] }],
  ]);
}

let ids = 100;

/** Records a write in `answers` as Grafana would answer the matching GET afterwards. */
export function applyWrite(answers: Map<string, Json | undefined>, { method, path, body }: HttpRequest): void {
  const b = obj(body);
  if (path === '/api/folders' && method === 'POST') {
    answers.set(`/api/folders/${String(b.uid)}`, { id: ids++, uid: b.uid!, title: b.title!, url: `/dashboards/f/${String(b.uid)}/`, version: 1 });
  } else if (path.startsWith('/api/folders/') && method === 'PUT') {
    const current = obj(answers.get(path));
    answers.set(path, { ...current, title: b.title!, version: Number(current.version ?? 0) + 1 });
  } else if (path === '/api/datasources' || path.startsWith('/api/datasources/uid/')) {
    const { secureJsonData, ...plain } = b;
    const read = `/api/datasources/uid/${String(b.uid)}`;
    const before = obj(answers.get(read));
    const secureJsonFields = { ...obj(before.secureJsonFields), ...Object.fromEntries(Object.keys(obj(secureJsonData)).map((k) => [k, true])) };
    answers.set(read, { id: ids++, orgId: 1, typeLogoUrl: '', user: '', database: '', basicAuth: false, withCredentials: false, readOnly: false, version: 1, ...plain, secureJsonFields });
  } else if (path === '/api/dashboards/db') {
    const dashboard = obj(b.dashboard);
    answers.set(`/api/dashboards/uid/${String(dashboard.uid)}`, {
      dashboard: { ...dashboard, id: ids++, version: 1 },
      meta: { type: 'db', canSave: true, slug: 'x', url: `/d/${String(dashboard.uid)}/x`, provisioned: false, folderUid: b.folderUid ?? '', version: 1 },
    });
  } else if (path.startsWith('/api/v1/provisioning/templates/') && method === 'PUT') {
    answers.set(path, { name: decodeURIComponent(path.split('/').pop()!), template: b.template!, version: 'abc' });
  } else if (path.startsWith('/api/v1/provisioning/contact-points')) {
    const read = `/api/v1/provisioning/contact-points?name=${encodeURIComponent(String(b.name))}`;
    const others = ((answers.get(read) ?? []) as Json[]).filter((c) => obj(c).uid !== b.uid);
    const settings = obj(b.settings);
    answers.set(read, [...others, { ...b, settings: { ...settings, ...(settings.url ? { url: '[REDACTED]' } : {}) } }]);
  } else if (path === '/api/v1/provisioning/policies' && method === 'PUT') {
    answers.set(path, body);
  } else if (path.startsWith('/api/v1/provisioning/folder/') && method === 'PUT') {
    answers.set(path, {
      ...b,
      rules: ((b.rules ?? []) as Json[]).map((r) => ({
        id: ids++,
        ...obj(r),
        orgID: 1,
        updated: '2026-03-02T08:00:00Z',
        data: ((obj(r).data ?? []) as Json[]).map((q) => ({
          queryType: '',
          relativeTimeRange: { from: 0, to: 0 },
          ...obj(q),
          // Grafana fills these into every query model it stores.
          model: { intervalMs: 1000, maxDataPoints: 43200, ...obj(obj(q).model) },
        })),
      })),
    });
  } else {
    throw new Error(`no documented answer for ${method} ${path}`);
  }
}
