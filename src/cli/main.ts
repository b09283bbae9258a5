#!/usr/bin/env node
// The `cdnkit` command. Each subcommand's --help is written to teach: what it does, what it
// writes, and an example.
import { Command, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../package-root.js';
import { configOption } from './options.js';
import { bridgeCommand, generateCommand, initCommand, schemaCommand, validateCommand } from './commands.js';
import { addDiagnoseCommands } from './diagnose.js';
import { addGrafanaCommand } from './grafana.js';
import { addLocalCommand } from './local.js';
import { addSimulateCommand } from './simulate.js';
import { addStackCommand } from './stack.js';
import { addTenantsCommand } from './tenants.js';

const program = new Command('cdnkit')
  .description('Describe your CDN log data once; generate the CDN logging, receivers, index template and dashboards from it.')
  .version(packageVersion())
  // Usage errors exit 2, as the commands' help says (commander's own default is 1); help exits 0.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText(
    'after',
    `
Start here:
  $ cdnkit init                          write a commented starter cdnkit.yaml (the reference pipeline)
  $ cdnkit validate -c cdnkit.yaml       check it; errors name the file, line and key
  $ cdnkit generate -c cdnkit.yaml -o out  write every artifact into out/ (see out/README.md)
  $ cdnkit local up -c cdnkit.yaml --simulate   run the whole pipeline here, without Docker`,
  );

const strictOption = () => new Option('--strict', 'treat warnings (e.g. high-cardinality tags) as errors');

program
  .command('init')
  .description('Write a commented starter kit config that reproduces the reference pipeline.')
  .addOption(new Option('-o, --output <file>', 'where to write it').default('cdnkit.yaml'))
  .option('-f, --force', 'overwrite an existing file')
  .addHelpText(
    'after',
    `
The starter declares the reference fields (Target's Fastly API gateway: product, api_name, backends,
status, cache, timings, POP...) with every setting at its default, each explained in a comment.
Edit the fields to match your data, then run \`cdnkit validate\`.

Example:
  $ cdnkit init -o edge.yaml`,
  )
  .action(initCommand);

program
  .command('validate')
  .description('Check a kit config and report every problem with its file, line and key.')
  .addOption(configOption())
  .addOption(strictOption())
  .addHelpText(
    'after',
    `
Exit status: 0 valid, 1 invalid (or warnings with --strict), 2 usage error.

Example:
  $ cdnkit validate -c cdnkit.yaml
  cdnkit.yaml:42:7: error: fields[3].roles: expected one of "log", "tag", "field", got "tags"`,
  )
  .action(validateCommand);

program
  .command('generate')
  .description('Write every artifact for the kit config into an output folder.')
  .addOption(configOption())
  .addOption(new Option('-o, --output <dir>', 'the output folder').default('out'))
  .addOption(strictOption())
  .option('--check', 'write nothing; exit 1, listing each file, if the output folder differs from what would be generated (for CI)')
  .addHelpText(
    'after',
    `
Writes (depending on cdn.flavours), and lists in <dir>/README.md:
  fastly/       the vcl_log snippet for a Fastly service (errors as JSON, every request as ILP)
  varnish/      VCL and varnishncsa formats for a Varnish edge
  receivers/    Logstash pipelines (plain and consul-template) and an rsyslog config: syslog -> Kafka;
                with tenants, their tenant tables too (install them in tenants.tablesDir)
  elasticsearch/ the composable index template for the error logs
The output is deterministic: the same config always gives the same bytes, so it can be committed
and reviewed, and --check can guard it in CI: it reports files missing, out of date, not generated
(left over in the folder) and with the wrong executable bit.

Exit status: 0 written (with --check: up to date), 1 invalid config (or differences with --check),
2 usage error.

Example:
  $ cdnkit generate -c cdnkit.yaml -o out`,
  )
  .action(generateCommand);

program
  .command('bridge')
  .description('Run a bridge from Kafka into a sink: metrics -> InfluxDB, logs -> Elasticsearch.')
  .argument('<kind>', 'metrics or logs', (value) => {
    if (value !== 'metrics' && value !== 'logs') throw new InvalidArgumentError('expected "metrics" or "logs"');
    return value;
  })
  .addOption(configOption())
  .addHelpText(
    'after',
    `
A bridge consumes its topic in a consumer group (start more instances with the same config to share
the partitions), writes each batch to its sink, and commits offsets only after the sink acknowledged
every line. Lines that can never be written (malformed, refused by the sink) go to the dead-letter
topic with the reason in the header "cdnkit-reason". While the sink is down it retries with backoff
and stops consuming, and catches up when the sink is back.

Serves, on bridges.<kind>.listen: /metrics (Prometheus), /healthz, /readyz.
Stops gracefully on SIGTERM or SIGINT: finishes the batch in flight, commits, leaves the group.

Environment (overrides the config, for containers and secrets):
  CDNKIT_KAFKA_BROKERS     comma-separated host:port list
  CDNKIT_BRIDGE_LISTEN     host:port for the operations endpoints
  CDNKIT_INFLUX_URL, CDNKIT_INFLUX_ORG, CDNKIT_INFLUX_BUCKET
  <sinks.influxdb.tokenEnv>  the InfluxDB token (default CDNKIT_INFLUX_TOKEN); required for metrics
  CDNKIT_ES_URL            Elasticsearch URL
  <kafka.sasl.passwordEnv>   the Kafka password (default CDNKIT_KAFKA_PASSWORD), when kafka.sasl is set
  <kafka.tls.keyPassphraseEnv>  the passphrase of an encrypted Kafka client key
  <sinks.elasticsearch.apiKeyEnv>, <usernameEnv> and <passwordEnv>  Elasticsearch credentials
  CDNKIT_LOG_LEVEL         debug, info (default), warn, error

Example:
  $ CDNKIT_INFLUX_TOKEN=... cdnkit bridge metrics -c cdnkit.yaml`,
  )
  .action(bridgeCommand);

addSimulateCommand(program);
addGrafanaCommand(program);
addTenantsCommand(program);
addStackCommand(program);
addLocalCommand(program);
addDiagnoseCommands(program);

program
  .command('schema')
  .description("Print the kit config's JSON Schema, for editors and CI linters.")
  .addHelpText('after', '\nExample:\n  $ cdnkit schema > cdnkit.schema.json')
  .action(schemaCommand);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`cdnkit: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
