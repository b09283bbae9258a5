// `cdnkit simulate --to syslog --metrics-host`: the two receiver sets may run on different hosts
// (the compose stack's logstash-logs and logstash-metrics), each line going to its type's host.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { kitConfigSchema } from '../../src/config/schema.js';
import { referenceConfig } from '../../src/config/preset.js';
import { syslogDestination } from '../../src/simulate/destinations.js';

async function receiver(host: string): Promise<{ server: Server; port: number; received: Promise<string> }> {
  const server = createServer();
  const received = new Promise<string>((resolve) =>
    server.on('connection', (socket) => {
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
    }),
  );
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, received };
}

describe('syslog destination with a separate metrics host', () => {
  it('sends the logs to --host and the metrics to --metrics-host', async () => {
    const logs = await receiver('127.0.0.1');
    const metrics = await receiver('127.0.0.2');
    const config = kitConfigSchema.parse({ ...referenceConfig, receivers: { host: '0.0.0.0', logsPort: logs.port, metricsPort: metrics.port } });
    const destination = await syslogDestination(config, '127.0.0.1', '127.0.0.2');
    expect(destination.description).toBe(`syslog TCP 127.0.0.1:${logs.port} (logs), 127.0.0.2:${metrics.port} (metrics)`);
    await destination.send('logs', '{"resp_status":503}');
    await destination.send('metrics', 'cdnmetrics,resp_status=503 elapsed_time=5i 1');
    await destination.close();
    expect(await logs.received).toBe('{"resp_status":503}\n');
    expect(await metrics.received).toBe('cdnmetrics,resp_status=503 elapsed_time=5i 1\n');
    logs.server.close();
    metrics.server.close();
  });
});
