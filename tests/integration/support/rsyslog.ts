// The real rsyslogd (src/local/rsyslogd.ts) running a generated receiver config, and a CDN edge's way of sending it lines.
import { connect } from 'node:net';
import { inject } from 'vitest';
import { rsyslogConfig } from '../../../generators/rsyslog.js';
import type { KitConfig } from '../../../src/config/schema.js';
import { startRsyslogd as startDaemon, type Rsyslogd } from '../../../src/local/rsyslogd.js';

export type { Rsyslogd };

/** Runs rsyslogd (the set-up's) on `configText` (with `env` added) until it listens on every port. */
export function startRsyslogd(configText: string, ports: number[], env: Record<string, string> = {}): Promise<Rsyslogd> {
  return startDaemon({ rsyslogd: inject('tools').rsyslogd, configText, ports, env });
}

/** Runs the receiver config generated for `config`, until both of its ports listen. */
export function startRsyslog(config: KitConfig, env: Record<string, string> = {}): Promise<Rsyslogd> {
  return startRsyslogd(rsyslogConfig(config), [config.receivers.logsPort, config.receivers.metricsPort], env);
}

/** Newline-framed syslog over TCP, as Fastly and varnishncsa shippers send it. */
export async function sendLines(port: number, lines: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(lines.map((l) => `${l}\n`).join(''), () => resolve());
    });
    socket.once('error', reject);
  });
}
