// What a bridge reads from outside the kit config when it starts: secrets from the environment
// variables the config names, and PEM files from the paths it gives. Each failure says which
// setting asked for what, before anything connects.
import { readFileSync } from 'node:fs';

/** Environment variables that override the kit config, for containers and secrets. */
export const BRIDGE_ENV = {
  brokers: 'CDNKIT_KAFKA_BROKERS',
  listen: 'CDNKIT_BRIDGE_LISTEN',
  influxUrl: 'CDNKIT_INFLUX_URL',
  influxOrg: 'CDNKIT_INFLUX_ORG',
  influxBucket: 'CDNKIT_INFLUX_BUCKET',
  elasticsearchUrl: 'CDNKIT_ES_URL',
} as const;

/** The variable's value, or undefined when it is unset or empty. */
export function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function requireEnv(name: string, what: string): string {
  const value = env(name);
  if (!value) throw new Error(`${what} is read from the environment variable ${name}, which is not set`);
  return value;
}

/** A PEM file's text; `key` is the config key that named it. */
export function readPem(path: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!text.includes('-----BEGIN ')) throw new Error(`${key}: ${path} is not a PEM file (no "-----BEGIN" line)`);
  return text;
}
