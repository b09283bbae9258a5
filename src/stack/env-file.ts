// compose/.env for the stack: every variable of compose/.env.example, with the secrets generated
// (crypto random) and the values that must agree with the kit config taken from it. The example
// file is the one list of variables: a variable is a secret when the comment line right above it
// is `# @secret`, and is derived when this module knows how (DERIVED below).
import { randomBytes } from 'node:crypto';
import { relative, resolve } from 'node:path';
import type { KitConfig } from '../config/schema.js';

export interface EnvVariable {
  name: string;
  /** The example's value (empty for secrets). */
  value: string;
  secret: boolean;
  /** The comment lines above it, without "# ". */
  comments: string[];
}

/** Where the stack's containers reach each other, and the variables it passes secrets in. */
export const STACK_ADDRESSES = {
  'kafka.brokers': ['kafka:9092'],
  'sinks.influxdb.url': 'http://influxdb:8086',
  'sinks.elasticsearch.url': 'http://elasticsearch:9200',
  'sinks.influxdb.tokenEnv': 'CDNKIT_INFLUX_TOKEN',
  'grafana.slack.webhookUrlEnv': 'CDNKIT_SLACK_WEBHOOK_URL',
} as const;

/** The stand-in for Slack in the demo profile (compose/webhook-sink). */
export const WEBHOOK_SINK_URL = 'http://webhook-sink:8080/slack';

const LINE = /^([A-Z][A-Z0-9_]*)=(.*)$/;

export function parseEnvExample(text: string): EnvVariable[] {
  const variables: EnvVariable[] = [];
  let comments: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      comments.push(line.replace(/^# ?/, ''));
      continue;
    }
    const match = LINE.exec(line);
    if (match) {
      const secret = comments.at(-1) === '@secret';
      variables.push({ name: match[1]!, value: match[2]!, secret, comments: secret ? comments.slice(0, -1) : comments });
    }
    comments = [];
  }
  return variables;
}

/** What the stack cannot run with: each problem names the key, its value and what the stack needs. */
export function stackProblems(config: KitConfig): string[] {
  const problems: string[] = [];
  const actual: Record<keyof typeof STACK_ADDRESSES, unknown> = {
    'kafka.brokers': config.kafka.brokers,
    'sinks.influxdb.url': config.sinks.influxdb.url,
    'sinks.elasticsearch.url': config.sinks.elasticsearch.url,
    'sinks.influxdb.tokenEnv': config.sinks.influxdb.tokenEnv,
    'grafana.slack.webhookUrlEnv': config.grafana.slack.webhookUrlEnv,
  };
  for (const [key, wanted] of Object.entries(STACK_ADDRESSES) as [keyof typeof STACK_ADDRESSES, unknown][]) {
    if (JSON.stringify(actual[key]) !== JSON.stringify(wanted)) {
      problems.push(`${key} is ${JSON.stringify(actual[key])}; the compose stack needs ${JSON.stringify(wanted)} (its service names and variables)`);
    }
  }
  if (config.kafka.tls || config.kafka.sasl) problems.push('kafka.tls / kafka.sasl are set; the compose stack runs Kafka without TLS or SASL');
  const es = config.sinks.elasticsearch;
  if (es.apiKeyEnv || es.usernameEnv || es.caFile) problems.push('sinks.elasticsearch has credentials or a CA; the compose stack runs Elasticsearch without security');
  return problems;
}

export interface EnvOptions {
  /** The compose folder; paths in the file are relative to it, as compose resolves them. */
  composeDir: string;
  configFile: string;
  generatedDir: string;
  slackWebhookUrl?: string;
  /** Bytes of randomness per secret. */
  secretBytes?: number;
}

/** The values init writes instead of the example's. */
function derived(config: KitConfig, options: EnvOptions): Record<string, string> {
  const fromCompose = (path: string) => {
    const rel = relative(resolve(options.composeDir), resolve(path));
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  return {
    CDNKIT_CONFIG: fromCompose(options.configFile),
    CDNKIT_GENERATED: fromCompose(options.generatedDir),
    INFLUXDB_ORG: config.sinks.influxdb.org,
    INFLUXDB_BUCKET: config.sinks.influxdb.bucket,
    CDNKIT_SLACK_WEBHOOK_URL: options.slackWebhookUrl ?? WEBHOOK_SINK_URL,
  };
}

/** A secret: URL-safe base64 of crypto-random bytes (no character compose or a shell would interpret). */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** The .env text: the example's comments and order, secrets generated, derived values filled in. */
export function renderEnvFile(example: EnvVariable[], config: KitConfig, options: EnvOptions): string {
  const values = derived(config, options);
  const lines = ['# Written by `cdnkit stack init`: secrets generated here, never commit this file.'];
  for (const variable of example) {
    if (variable.comments.length > 0) lines.push('', ...variable.comments.map((comment) => `# ${comment}`.trimEnd()));
    const value = variable.secret ? generateSecret(options.secretBytes) : (values[variable.name] ?? variable.value);
    lines.push(`${variable.name}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}
