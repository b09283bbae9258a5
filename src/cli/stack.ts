// `cdnkit stack`: the compose stack's set-up. Declared here; the work is in src/stack/.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadOrExit } from './commands.js';
import { configOption } from './options.js';

const SETUP_STEPS = ['kafka', 'elasticsearch', 'kibana'] as const;
type SetupStep = (typeof SETUP_STEPS)[number];

export function addStackCommand(program: Command): void {
  const stack = program.command('stack').description('Set up the docker compose stack in compose/ (see compose/compose.yaml).');

  stack
    .command('init')
    .description('Write compose/.env: every variable of compose/.env.example, secrets generated, values taken from the kit config.')
    .addOption(configOption('the kit config the stack runs'))
    .addOption(new Option('-d, --dir <dir>', 'the compose folder').default('compose'))
    .addOption(new Option('-g, --generated <dir>', 'where `cdnkit generate` writes for the stack').default('compose/generated'))
    .option('-o, --output <file>', 'where to write the file (default <dir>/.env; then give it to compose with --env-file)')
    .option('--slack-webhook-url <url>', 'your Slack incoming-webhook URL (default: the demo profile\'s webhook sink)')
    .option('-f, --force', 'overwrite an existing .env (new secrets: a stack already set up keeps the old ones in its volumes)')
    .addHelpText(
      'after',
      `
Secrets (InfluxDB token and admin password, Grafana admin password) are crypto-random, written only
to <dir>/.env (mode 0600, git-ignored). Refuses a kit config the stack cannot run (addresses other
than its service names, TLS or SASL), naming each key.

Then:
  $ cdnkit generate -c cdnkit.yaml -o compose/generated
  $ docker compose -f compose/compose.yaml --profile demo up -d --wait

Example:
  $ cdnkit stack init -c cdnkit.example.yaml`,
    )
    .action(stackInitCommand);

  stack
    .command('setup')
    .description('One set-up step of the stack, safe to re-run (the stack runs each as a one-shot service).')
    .argument('<step>', SETUP_STEPS.join(', '), (value) => {
      if (!(SETUP_STEPS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${SETUP_STEPS.join(', ')}`);
      return value as SetupStep;
    })
    .addOption(configOption())
    .option('--template <file>', 'elasticsearch: the generated index template', 'out/elasticsearch/index-template.json')
    .option('--kibana-url <url>', 'kibana: where Kibana listens', 'http://127.0.0.1:5601')
    .addHelpText(
      'after',
      `
Steps:
  kafka          create the configured topics that are missing; add partitions where fewer than configured
  elasticsearch  install the generated index template (PUT, replaces it)
  kibana         create or replace the data view "cdnkit error logs" over <indexPrefix>-*

Addresses from the kit config, overridden by CDNKIT_KAFKA_BROKERS and CDNKIT_ES_URL as for the bridges.
Exit status: 0 done, 1 failed (with a hint: cannot resolve, cannot connect, timed out).`,
    )
    .action(stackSetupCommand);
}

async function stackInitCommand(options: { config: string; dir: string; generated: string; output?: string; slackWebhookUrl?: string; force?: boolean }): Promise<void> {
  const { config } = loadOrExit({ config: options.config });
  const { parseEnvExample, renderEnvFile, stackProblems } = await import('../stack/env-file.js');
  const fail = (message: string): never => {
    process.stderr.write(`cdnkit stack init: ${message}\n`);
    process.exit(1);
  };
  const problems = stackProblems(config);
  if (problems.length > 0) fail(`${options.config} does not fit the compose stack:\n  ${problems.join('\n  ')}`);
  const example = join(options.dir, '.env.example');
  const target = options.output ?? join(options.dir, '.env');
  if (!existsSync(example)) fail(`${example} not found: run this in the cdnkit repository, or give --dir`);
  if (existsSync(target) && !options.force) fail(`${target} exists; use --force to replace it (and its secrets)`);
  const text = renderEnvFile(parseEnvExample(readFileSync(example, 'utf8')), config, {
    composeDir: options.dir,
    configFile: options.config,
    generatedDir: options.generated,
    ...(options.slackWebhookUrl ? { slackWebhookUrl: options.slackWebhookUrl } : {}),
  });
  writeFileSync(target, text, { mode: 0o600 });
  process.stdout.write(
    `wrote ${target} (secrets generated; keep it out of version control)\n` +
      (options.slackWebhookUrl ? '' : 'alerts go to the demo profile\'s webhook sink; put your Slack webhook URL in CDNKIT_SLACK_WEBHOOK_URL to reach Slack\n') +
      `next:\n  cdnkit generate -c ${options.config} -o ${options.generated}\n  docker compose -f ${join(options.dir, 'compose.yaml')} --profile demo up -d --wait\n`,
  );
}

async function stackSetupCommand(step: SetupStep, options: { config: string; template: string; kibanaUrl: string }): Promise<void> {
  const { config } = loadOrExit({ config: options.config });
  const setup = await import('../stack/setup.js');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    if (step === 'kafka') await setup.setupKafkaTopics(config, say);
    else if (step === 'elasticsearch') await setup.setupElasticsearchTemplate(config, options.template, say);
    else await setup.setupKibanaDataView(config, options.kibanaUrl, say);
  } catch (error) {
    process.stderr.write(`cdnkit stack setup ${step}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // kafkajs may leave sockets closing: a finished one-shot must exit.
  process.exit(0);
}
