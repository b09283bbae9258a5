// `cdnkit tenants add/remove/list`: a tenant's topics (Admin API; a changed retention through
// ConfigCommand), SCRAM user (ConfigCommand, see config-command.ts) and ACLs (Admin API). Each step
// compares what is there with what should be and changes only the difference, so running `add`
// again changes nothing and says so.
import { randomBytes } from 'node:crypto';
import kafkajs, { type Admin, type AclEntry } from 'kafkajs';
import type { KitConfig, LogType, Tenant, TenantsConfig } from '../config/schema.js';
import { LOG_TYPES } from '../config/schema.js';
import { tenantNames, tenantTopic } from './names.js';
import { deleteScramCredential, hasScramCredential, setScramCredential, setTopicConfig, type ConfigCommand } from './config-command.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export interface TenantAdmin {
  admin: Admin;
  configCommand: ConfigCommand;
}

export interface AddResult {
  changes: string[];
  /** The new password, when this run created the credential: it goes into the bundle and nowhere else. */
  password?: string;
}

/** The ACLs a tenant has, and nothing else: read and describe their topics, read groups of their prefix. */
export function tenantAcls(tenants: TenantsConfig, tenant: Tenant): AclEntry[] {
  const names = tenantNames(tenants, tenant);
  const principal = `User:${names.user}`;
  const allow = { principal, host: '*', permissionType: AclPermissionTypes.ALLOW };
  return [
    ...Object.values(names.topics).flatMap((topic) =>
      [AclOperationTypes.READ, AclOperationTypes.DESCRIBE].map((operation) => ({
        ...allow,
        operation,
        resourceType: AclResourceTypes.TOPIC,
        resourceName: topic,
        resourcePatternType: ResourcePatternTypes.LITERAL,
      })),
    ),
    { ...allow, operation: AclOperationTypes.READ, resourceType: AclResourceTypes.GROUP, resourceName: names.groupPrefix, resourcePatternType: ResourcePatternTypes.PREFIXED },
  ];
}

const aclKey = (a: AclEntry) => [a.resourceType, a.resourceName, a.resourcePatternType, a.principal, a.host, a.operation, a.permissionType].join('|');

export function describeAcl(a: AclEntry): string {
  const name = (table: Record<string, unknown>, value: unknown) => Object.entries(table).find(([, v]) => v === value)?.[0] ?? String(value);
  return `${name(AclPermissionTypes, a.permissionType)} ${name(AclOperationTypes, a.operation)} on ${name(AclResourceTypes, a.resourceType).toLowerCase()} ${name(ResourcePatternTypes, a.resourcePatternType) === 'PREFIXED' ? 'prefix ' : ''}"${a.resourceName}"`;
}

/** Every ACL whose principal is the user. */
async function aclsOf(admin: Admin, user: string): Promise<AclEntry[]> {
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    principal: `User:${user}`,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  return resources.flatMap(({ acls, ...resource }) => acls.map((acl) => ({ ...resource, ...acl })));
}

export function findTenant(config: KitConfig, id: string): { tenants: TenantsConfig; tenant: Tenant } {
  const tenants = config.tenants;
  const tenant = tenants?.list.find((t) => t.id === id);
  if (!tenants || !tenant) {
    const known = tenants?.list.map((t) => t.id).join(', ') || 'none';
    throw new Error(`tenant "${id}" is not in the config's tenants.list (known: ${known}); add it there first`);
  }
  return { tenants, tenant };
}

export async function addTenant({ admin, configCommand }: TenantAdmin, tenants: TenantsConfig, tenant: Tenant): Promise<AddResult> {
  const names = tenantNames(tenants, tenant);
  const changes: string[] = [];
  const retentionMs = String(tenant.retentionHours * 3_600_000);

  const existing = new Set(await admin.listTopics());
  const wanted = Object.values(names.topics);
  const missing = wanted.filter((topic) => !existing.has(topic));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: tenants.partitions, configEntries: [{ name: 'retention.ms', value: retentionMs }] })),
    });
    for (const topic of missing) changes.push(`created topic ${topic} (${tenants.partitions} partitions, retention ${tenant.retentionHours} h)`);
  }
  const present = wanted.filter((topic) => existing.has(topic));
  if (present.length > 0) {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })),
    });
    for (const resource of resources) {
      const current = resource.configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
      if (current === retentionMs) continue;
      // Incrementally: settings an operator added to the topic by hand stay.
      await setTopicConfig(configCommand, resource.resourceName, 'retention.ms', retentionMs);
      changes.push(`set retention of ${resource.resourceName} to ${tenant.retentionHours} h (was ${current ?? 'the broker default'})`);
    }
  }

  let password: string | undefined;
  if (!(await hasScramCredential(configCommand, names.user))) {
    password = randomBytes(24).toString('base64url');
    await setScramCredential(configCommand, names.user, password);
    changes.push(`created SCRAM-SHA-512 user ${names.user}`);
  }

  const have = await aclsOf(admin, names.user);
  const want = tenantAcls(tenants, tenant);
  const haveKeys = new Set(have.map(aclKey));
  const wantKeys = new Set(want.map(aclKey));
  const grant = want.filter((a) => !haveKeys.has(aclKey(a)));
  const revoke = have.filter((a) => !wantKeys.has(aclKey(a)));
  if (grant.length > 0) await admin.createAcls({ acl: grant });
  if (revoke.length > 0) await admin.deleteAcls({ filters: revoke });
  for (const a of grant) changes.push(`granted ${names.user}: ${describeAcl(a)}`);
  for (const a of revoke) changes.push(`revoked from ${names.user}: ${describeAcl(a)} (not part of a tenant's access)`);

  return { changes, ...(password ? { password } : {}) };
}

/** Sets a new password on the tenant's credential (creating it if needed) and returns it. */
export async function issuePassword({ configCommand }: TenantAdmin, tenants: TenantsConfig, tenant: Tenant): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  await setScramCredential(configCommand, tenantNames(tenants, tenant).user, password);
  return password;
}

export async function removeTenant(
  { admin, configCommand }: TenantAdmin,
  tenants: TenantsConfig,
  id: string,
  { deleteTopics }: { deleteTopics: boolean },
): Promise<string[]> {
  const names = tenantNames(tenants, { id, logTypes: [...LOG_TYPES] });
  const changes: string[] = [];
  const have = await aclsOf(admin, names.user);
  if (have.length > 0) {
    await admin.deleteAcls({ filters: have });
    for (const a of have) changes.push(`revoked from ${names.user}: ${describeAcl(a)}`);
  }
  if (await hasScramCredential(configCommand, names.user)) {
    await deleteScramCredential(configCommand, names.user);
    changes.push(`deleted SCRAM-SHA-512 credential of ${names.user}`);
  }
  const existing = new Set(await admin.listTopics());
  const topics = LOG_TYPES.map((type: LogType) => tenantTopic(tenants, id, type)).filter((t) => existing.has(t));
  if (deleteTopics && topics.length > 0) {
    await admin.deleteTopics({ topics });
    for (const topic of topics) changes.push(`deleted topic ${topic}`);
  }
  return changes;
}

export interface TenantState {
  id: string;
  user: string;
  topics: { name: string; exists: boolean }[];
  credential: boolean;
  acls: number;
  /** True when topics, credential and ACLs are exactly what `add` makes. */
  complete: boolean;
}

export async function tenantStates({ admin, configCommand }: TenantAdmin, tenants: TenantsConfig): Promise<TenantState[]> {
  const existing = new Set(await admin.listTopics());
  const states: TenantState[] = [];
  for (const tenant of tenants.list) {
    const names = tenantNames(tenants, tenant);
    const topics = Object.values(names.topics).map((name) => ({ name, exists: existing.has(name) }));
    const credential = await hasScramCredential(configCommand, names.user);
    const have = await aclsOf(admin, names.user);
    const wantKeys = tenantAcls(tenants, tenant).map(aclKey);
    const haveKeys = new Set(have.map(aclKey));
    const complete = topics.every((t) => t.exists) && credential && have.length === wantKeys.length && wantKeys.every((k) => haveKeys.has(k));
    states.push({ id: tenant.id, user: names.user, topics, credential, acls: have.length, complete });
  }
  return states;
}
