// What a tenant's id becomes in Kafka: topic, user and consumer-group names, one rule for the
// admin commands, the edge routing and the bundle, so they cannot disagree.
import type { LogType, Tenant, TenantsConfig } from '../config/schema.js';

export interface TenantNames {
  /** The SCRAM user, also the ACL principal's name. */
  user: string;
  /** Consumer groups the tenant may use start with this. */
  groupPrefix: string;
  /** Topic per log type the tenant gets. */
  topics: Partial<Record<LogType, string>>;
}

export function tenantNames(tenants: Pick<TenantsConfig, 'topicPrefix'>, tenant: Pick<Tenant, 'id' | 'logTypes'>): TenantNames {
  const base = `${tenants.topicPrefix}${tenant.id}`;
  return {
    user: base,
    groupPrefix: `${base}.`,
    topics: Object.fromEntries(tenant.logTypes.map((type) => [type, `${base}.${type}`])),
  };
}

export function tenantTopic(tenants: Pick<TenantsConfig, 'topicPrefix'>, id: string, type: LogType): string {
  return `${tenants.topicPrefix}${id}.${type}`;
}

/**
 * Where a receiver sends a line of `type` by the tenant id in front of it: the tenant's topic, or
 * NOT_SUBSCRIBED for a tenant who did not ask for this type. An id not in the table is nobody's:
 * its line goes whole to the quarantine topic. rsyslog's lookup table and Logstash's translate
 * dictionary are both written from this one table, so the receivers cannot disagree.
 */
export function tenantRoutes(tenants: Pick<TenantsConfig, 'topicPrefix' | 'list'>, type: LogType): [id: string, topic: string][] {
  return tenants.list.map((t) => [t.id, t.logTypes.includes(type) ? tenantTopic(tenants, t.id, type) : NOT_SUBSCRIBED]);
}

/** The route of a tenant without this log type: "/" is no topic character, so no topic is named this. */
export const NOT_SUBSCRIBED = '/dev/null';

/** The file a receiver reads its tenant table of `type` from, installed in tenants.tablesDir. */
export function tenantTableFile(receiver: 'rsyslog' | 'logstash', type: LogType): string {
  return `${receiver}-tenants-${type}.json`;
}
