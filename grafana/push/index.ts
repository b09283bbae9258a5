// `cdnkit grafana push`: read what the Grafana has, plan, and write only what differs.
import type { KitConfig } from '../../src/config/schema.js';
import { grafanaResources } from '../index.js';
import { pushSetProblems } from './checks.js';
import { applyPlan, readAnswers, type GrafanaClient } from './client.js';
import { describeStep, plan, summary, type PlanStep } from './plan.js';
import { PushConfigError, pushResources, type Environment } from './resources.js';

export interface PushOptions {
  env: Environment;
  dryRun: boolean;
  resendSecrets?: boolean;
  /** Each line of progress, as it happens. */
  report: (line: string) => void;
}

export interface PushResult {
  steps: PlanStep[];
  counts: ReturnType<typeof summary>;
}

export async function pushToGrafana(config: KitConfig, client: GrafanaClient, options: PushOptions): Promise<PushResult> {
  const resources = pushResources(config, grafanaResources(config), options.env);
  const problems = pushSetProblems(resources);
  if (problems.length > 0) throw new PushConfigError(`Grafana would refuse these resources, so nothing was sent:\n  ${problems.join('\n  ')}`);
  options.report(`reading ${resources.length} resources…`);
  const steps = plan(resources, await readAnswers(client, resources.map((r) => r.read)), { env: options.env, resendSecrets: options.resendSecrets ?? false });
  const counts = summary(steps);
  const changed = counts.create + counts.update;
  if (options.dryRun) {
    for (const step of steps) describeStep(step, false).forEach(options.report);
    options.report(changed === 0 ? 'dry run: nothing would change' : `dry run: ${counts.create} to create, ${counts.update} to update, ${counts.unchanged} unchanged; nothing was written`);
    return { steps, counts };
  }
  await applyPlan(client, steps, (step) => describeStep(step, true).forEach(options.report));
  options.report(changed === 0 ? `nothing changed: all ${steps.length} resources already match` : `${counts.create} created, ${counts.update} updated, ${counts.unchanged} unchanged`);
  return { steps, counts };
}

export { grafanaClient, GrafanaApiError, type GrafanaAuth } from './client.js';
export { PushConfigError } from './resources.js';

/** The values no output may show: credentials, and every secret the pushed resources carry. */
export function secretValues(config: KitConfig, env: Environment): string[] {
  const { slack } = config.grafana;
  const { influxdb, elasticsearch } = config.sinks;
  const { sasl, tls } = config.kafka;
  const names = [config.grafana.tokenEnv, GRAFANA_PASSWORD_ENV, slack.webhookUrlEnv, influxdb.tokenEnv, elasticsearch.passwordEnv, elasticsearch.apiKeyEnv, sasl?.passwordEnv, tls?.keyPassphraseEnv];
  return names.flatMap((name) => (name && env[name] ? [env[name]] : []));
}

/** Replaces every secret in a text (an error may quote a request) with [redacted]. */
export function redactor(secrets: string[]): (text: string) => string {
  // Longest first, so a secret containing another is replaced whole; very short values would
  // blank out ordinary words and are not secrets anyone uses.
  const sorted = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => sorted.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

/** Basic authentication, for a Grafana without service accounts: both must be set. */
export const GRAFANA_USER_ENV = 'CDNKIT_GRAFANA_USER';
export const GRAFANA_PASSWORD_ENV = 'CDNKIT_GRAFANA_PASSWORD';
