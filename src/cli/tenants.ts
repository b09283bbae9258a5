// `cdnkit tenants add|remove|list|bundle`: serving many customers from one Kafka. Declared here
// (not in main.ts) so the command group stays in one place.
import { performance } from 'node:perf_hooks';
import { Command, Option } from 'commander';
import type { KitConfig } from '../config/schema.js';
import type { TenantAdmin } from '../tenants/admin.js';
import { loadOrExit } from './commands.js';
import { configOption } from './options.js';

const bundleDirOption = () => new Option('-o, --bundle-dir <dir>', 'where onboarding bundles are written').default('bundles');

const ENVIRONMENT = `
Environment:
  CDNKIT_KAFKA_BROKERS   comma-separated host:port list of an admin listener (default: kafka.brokers)
  CDNKIT_KAFKA_CONFIGS   the command that runs Kafka's ConfigCommand, for SCRAM credentials
                         (default: kafka-configs.sh on PATH; e.g. "java -cp /opt/kafka/libs/* kafka.admin.ConfigCommand")`;

export function addTenantsCommand(program: Command): void {
  const tenants = program
    .command('tenants')
    .description("Give customers their own Kafka topics, SCRAM user and ACLs, and an onboarding bundle.")
    .addHelpText(
      'after',
      `
Tenants are declared in the kit config (tenants.list: id, logTypes, retentionHours). For each, cdnkit
makes topics <topicPrefix><id>.<logType>, a SCRAM-SHA-512 user <topicPrefix><id>, and ACLs that let
that user read and describe those topics with consumer groups starting <topicPrefix><id>. — nothing else.
${ENVIRONMENT}

Example:
  $ cdnkit tenants add acme -c cdnkit.yaml     # topics, user, ACLs; writes bundles/cdnkit-tenant-acme.tar.gz
  $ cdnkit tenants list -c cdnkit.yaml`,
    );

  tenants
    .command('add')
    .description("Create the tenants' topics, SCRAM users and ACLs; idempotent: changes only what differs, and says what")
    .argument('[ids...]', 'tenant ids from tenants.list')
    .option('--all', 'every tenant in tenants.list')
    .addOption(configOption())
    .addOption(bundleDirOption())
    .addHelpText(
      'after',
      `
A tenant whose user is created here gets its bundle written (the only place its password is kept).
An existing user keeps its password; \`cdnkit tenants bundle\` issues a new one.
Exit status: 0 done, 1 invalid config or a Kafka error, 2 usage error.`,
    )
    .action(async (ids: string[], flags: { config: string; all?: boolean; bundleDir: string }) => {
      const { config } = loadOrExit(flags);
      const chosen = flags.all ? (config.tenants?.list.map((t) => t.id) ?? []) : ids;
      if (chosen.length === 0) usage('name the tenants to add, or --all');
      const { addTenant, findTenant } = await import('../tenants/admin.js');
      const { writeBundle } = await import('../tenants/bundle.js');
      const targets = chosen.map((id) => findTenant(config, id));
      await withTenantAdmin(config, async (connection) => {
        for (const { tenants: section, tenant } of targets) {
          const started = performance.now();
          const { changes, password } = await addTenant(connection, section, tenant);
          if (password) changes.push(`wrote ${await writeBundle({ config, tenants: section, tenant, password }, flags.bundleDir)} (holds the password)`);
          const took = ((performance.now() - started) / 1000).toFixed(1);
          report(`tenant ${tenant.id}`, changes, `${took} s`);
        }
      });
    });

  tenants
    .command('remove')
    .description("Revoke a tenant's access: its ACLs and SCRAM credential; keep its topics unless --delete-topics")
    .argument('<id>', 'the tenant id (it need not be in the config any more)')
    .option('--delete-topics', "also delete the tenant's topics and the lines in them")
    .addOption(configOption())
    .action(async (id: string, flags: { config: string; deleteTopics?: boolean }) => {
      const { config } = loadOrExit(flags);
      if (!config.tenants) usage(`${flags.config} has no tenants section (it names the topic prefix)`);
      const { removeTenant } = await import('../tenants/admin.js');
      await withTenantAdmin(config, async (connection) => {
        const changes = await removeTenant(connection, config.tenants!, id, { deleteTopics: flags.deleteTopics ?? false });
        if (!flags.deleteTopics) changes.push('kept its topics (use --delete-topics to delete them)');
        report(`tenant ${id}`, changes);
      });
    });

  tenants
    .command('list')
    .description('List the tenants of the config and what Kafka has for each: topics, credential, ACLs')
    .addOption(configOption())
    .action(async (flags: { config: string }) => {
      const { config } = loadOrExit(flags);
      const { tenantStates } = await import('../tenants/admin.js');
      if (!config.tenants || config.tenants.list.length === 0) {
        process.stdout.write(`${flags.config}: no tenants\n`);
        return;
      }
      await withTenantAdmin(config, async (connection) => {
        for (const state of await tenantStates(connection, config.tenants!)) {
          const topics = state.topics.map((t) => `${t.name}${t.exists ? '' : ' (missing)'}`).join(', ');
          const status = state.complete ? 'ok' : 'incomplete: run cdnkit tenants add';
          process.stdout.write(`${state.id}\tuser ${state.user}${state.credential ? '' : ' (no credential)'}\t${state.acls} ACLs\t${topics}\t${status}\n`);
        }
      });
    });

  tenants
    .command('bundle')
    .description("Issue a tenant a new password and write its onboarding bundle (the old bundle's password stops working)")
    .argument('<id>', 'the tenant id')
    .addOption(configOption())
    .addOption(bundleDirOption())
    .action(async (id: string, flags: { config: string; bundleDir: string }) => {
      const { config } = loadOrExit(flags);
      const { findTenant, issuePassword } = await import('../tenants/admin.js');
      const { writeBundle } = await import('../tenants/bundle.js');
      const { tenants: section, tenant } = findTenant(config, id);
      await withTenantAdmin(config, async (connection) => {
        const password = await issuePassword(connection, section, tenant);
        const archive = await writeBundle({ config, tenants: section, tenant, password }, flags.bundleDir);
        report(`tenant ${id}`, ['set a new SCRAM-SHA-512 password', `wrote ${archive} (holds the password)`]);
      });
    });
}

function usage(message: string): never {
  process.stderr.write(`cdnkit tenants: ${message}\n`);
  process.exit(2);
}

function report(what: string, changes: string[], took?: string): void {
  const timing = took ? ` (${took})` : '';
  if (changes.length === 0) {
    process.stdout.write(`${what}: up to date, nothing changed${timing}\n`);
    return;
  }
  process.stdout.write(`${what}: ${changes.length} change(s)${timing}\n${changes.map((c) => `  ${c}\n`).join('')}`);
}

/** An Admin client on the config's brokers (or CDNKIT_KAFKA_BROKERS), and the ConfigCommand to use beside it. */
async function withTenantAdmin(config: KitConfig, use: (connection: TenantAdmin) => Promise<void>): Promise<void> {
  const { tenantAdmin } = await import('../tenants/connection.js');
  const connection = tenantAdmin(config);
  await connection.admin.connect();
  try {
    await use(connection);
  } finally {
    await connection.admin.disconnect();
  }
}
