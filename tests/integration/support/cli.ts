// The built CLI run to its end, as a user runs it, for tests that read what it prints.
import { inheritedEnv } from '../../../src/local/bridge-process.js';
import { spawnChild } from '../../../src/local/process.js';
import { BUILT_CLI } from './config.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end, in the test run's environment without the bridges' overrides (see inheritedEnv). */
export async function runBuiltCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawnChild(process.execPath, [BUILT_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inheritedEnv(), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}
