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
