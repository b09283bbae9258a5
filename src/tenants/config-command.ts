// What kafkajs cannot do, done with Kafka's own ConfigCommand: SCRAM credentials (kafkajs has no
// AlterUserScramCredentials, KIP-554) and changing one topic setting without resetting the others
// (kafkajs has only the legacy AlterConfigs, which replaces a topic's whole dynamic config; the
// ConfigCommand's --add-config is an IncrementalAlterConfigs). It runs `kafka-configs.sh` from a
// Kafka distribution on PATH, or the command in CDNKIT_KAFKA_CONFIGS (say `java -cp
// '/opt/kafka/libs/*' kafka.admin.ConfigCommand`, which is all kafka-configs.sh runs). Passwords go on its command line, which other local users
// can see in `ps` for the second it runs: run it on an admin host.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnChild } from '../local/process.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-512';
const ITERATIONS = 8192;

export interface ConfigCommand {
  /** argv of ConfigCommand, e.g. ['kafka-configs.sh']. */
  command: string[];
  bootstrap: string[];
  /** Client properties for the admin connection (security.protocol, sasl.jaas.config, ...), if any. */
  adminProperties?: Record<string, string>;
}

export function configCommandFromEnvironment(bootstrap: string[], adminProperties?: Record<string, string>): ConfigCommand {
  const command = (process.env.CDNKIT_KAFKA_CONFIGS ?? 'kafka-configs.sh').split(/\s+/).filter(Boolean);
  return { command, bootstrap, ...(adminProperties ? { adminProperties } : {}) };
}

async function runConfigCommand({ command, bootstrap, adminProperties }: ConfigCommand, args: string[]): Promise<string> {
  const dir = adminProperties ? mkdtempSync(join(tmpdir(), 'cdnkit-admin-')) : undefined;
  try {
    const extra: string[] = [];
    if (dir && adminProperties) {
      const file = join(dir, 'admin.properties');
      writeFileSync(file, Object.entries(adminProperties).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
      extra.push('--command-config', file);
    }
    const [program, ...leading] = command;
    const argv = [...leading, '--bootstrap-server', bootstrap.join(','), ...extra, ...args];
    return await new Promise<string>((resolve, reject) => {
      const child = spawnChild(program!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      child.on('error', (error) =>
        reject(new Error(`cannot run ${program} (${error.message}): put Kafka's kafka-configs.sh on PATH, or set CDNKIT_KAFKA_CONFIGS to a command that runs kafka.admin.ConfigCommand`)),
      );
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${program} ${args.slice(0, 2).join(' ')} exited with ${code}: ${out.trim().split('\n').slice(-3).join(' | ')}`))));
    });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Sets `name` on the topic, leaving its other settings (an operator's own, say) as they are. */
export async function setTopicConfig(cc: ConfigCommand, topic: string, name: string, value: string): Promise<void> {
  if (/[,[\]=]/.test(value)) throw new Error(`a topic setting given to ConfigCommand cannot contain ",", "[", "]" or "=": ${name}=${value}`);
  await runConfigCommand(cc, ['--alter', '--add-config', `${name}=${value}`, '--entity-type', 'topics', '--entity-name', topic]);
}

/** True when the user has a SCRAM-SHA-512 credential. */
export async function hasScramCredential(cc: ConfigCommand, user: string): Promise<boolean> {
  const out = await runConfigCommand(cc, ['--describe', '--entity-type', 'users', '--entity-name', user]);
  return out.includes(`${SCRAM_MECHANISM}=`);
}

export async function setScramCredential(cc: ConfigCommand, user: string, password: string): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error('a SCRAM password here must be letters, digits, "_" and "-" (ConfigCommand parses [,=])');
  await runConfigCommand(cc, ['--alter', '--add-config', `${SCRAM_MECHANISM}=[iterations=${ITERATIONS},password=${password}]`, '--entity-type', 'users', '--entity-name', user]);
}

export async function deleteScramCredential(cc: ConfigCommand, user: string): Promise<void> {
  await runConfigCommand(cc, ['--alter', '--delete-config', SCRAM_MECHANISM, '--entity-type', 'users', '--entity-name', user]);
}
