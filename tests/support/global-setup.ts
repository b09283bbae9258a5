// Vitest global set-up for the integration tests: obtains every real program and server the tests
// run generated artifacts through, starts the servers once for the whole run, hands their addresses
// to the tests with `inject`, and stops what it started at the end. A program or server that cannot
// be obtained fails the run here, naming the step and the reason: no integration test is skipped.
import type { TestProject } from 'vitest/node';
import { ensureConsulTemplate, ensureDockerCompose, ensureFalco, ensurePrometheus, ensureRsyslog, ensureTelegraf, ensureVarnish } from '../../src/local/tools.js';
import { startServices, type ServiceAddresses } from '../../src/local/services/index.js';
import { progress } from '../../src/local/progress.js';

export interface ToolPaths {
  falco: string;
  consulTemplate: string;
  dockerCompose: string;
  varnishd: string;
  varnishncsa: string;
  rsyslogd: string;
  prometheus: string;
  telegraf: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    tools: ToolPaths;
    services: ServiceAddresses;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  // Programs first, one at a time: each may compile for minutes on two cores, and its progress
  // reads better alone. Servers then start together.
  const falco = await ensureFalco();
  const consulTemplate = await ensureConsulTemplate();
  const dockerCompose = await ensureDockerCompose();
  const varnish = await ensureVarnish();
  const rsyslog = await ensureRsyslog();
  const prometheus = await ensurePrometheus();
  const telegraf = await ensureTelegraf();
  project.provide('tools', {
    falco,
    consulTemplate,
    dockerCompose,
    varnishd: varnish.varnishd,
    varnishncsa: varnish.varnishncsa,
    rsyslogd: rsyslog.rsyslogd,
    prometheus,
    telegraf,
  });

  const services = await startServices();
  project.provide('services', services.addresses);
  progress(`integration set-up ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return services.stop;
}
