// falco, the Fastly VCL linter and simulator: lint a service, and run it to see what `log` emits.
import { request } from 'node:http';
import { inject } from 'vitest';
import { freePort, portInUse, runCommand, spawnChild } from '../../../src/local/process.js';

export interface LintReport {
  errors: number;
  warnings: number;
  messages: string[];
}

/** `falco lint -json`; exits 1 on errors, so the report is read from stdout either way. */
export async function falcoLint(vclFile: string): Promise<LintReport> {
  const { stdout, output } = await runCommand(inject('tools').falco, ['lint', '-json', vclFile]);
  if (!stdout) throw new Error(`falco lint printed no report:\n${output}`);
  const report = JSON.parse(stdout) as {
    Errors: number;
    Warnings: number;
    LintErrors?: Record<string, { Severity: string; Message: string; Token?: { Line: number } }[]>;
    ParseErrors?: Record<string, unknown>;
  };
  const messages = Object.values(report.LintErrors ?? {})
    .flat()
    .filter((e) => e.Severity.toUpperCase() !== 'INFO')
    .map((e) => `${e.Severity} line ${e.Token?.Line}: ${e.Message}`);
  const parseErrors = Object.keys(report.ParseErrors ?? {}).length;
  return { errors: report.Errors + parseErrors, warnings: report.Warnings, messages };
}

export interface Simulator {
  /** Sends a request; resolves with the lines the VCL's `log` statements emitted for it. */
  send(path: string, headers: Record<string, string>): Promise<{ status: number; logs: string[] }>;
  stop(): void;
}


export async function startSimulator(vclFile: string): Promise<Simulator> {
  const port = await freePort();
  // --port=N: falco reads "-p N" as a file name.
  const child = spawnChild(inject('tools').falco, ['simulate', `--port=${port}`, vclFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
  const deadline = Date.now() + 15_000;
  // falco prints its banner before it listens (a CI run's first request was refused): wait for both.
  while (!output.includes('Simulator server starts') || !(await portInUse(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`falco simulate did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    send: (path, headers) =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              logs?: { message: string }[];
              client_response?: { status_code: number };
            };
            resolve({ status: body.client_response?.status_code ?? 0, logs: (body.logs ?? []).map((l) => l.message) });
          });
        });
        req.on('error', reject);
        req.end();
      }),
    stop: () => child.kill('SIGTERM'),
  };
}
