// The operations endpoints every bridge serves: /metrics (Prometheus), /healthz (the process is
// alive) and /readyz (consuming from Kafka and the sink answers).
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Probes {
  registry: Registry;
  ready(): Promise<{ ready: boolean; checks: Record<string, boolean> }>;
}

export async function serveOperations(listen: string, probes: Probes): Promise<Server> {
  const [host, port] = splitListen(listen);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/metrics') {
      probes.registry.metrics().then(
        (text) => reply(200, probes.registry.contentType, text),
        (error: Error) => reply(500, 'text/plain', error.message),
      );
    } else if (path === '/healthz') {
      reply(200, 'application/json', '{"status":"ok"}\n');
    } else if (path === '/readyz') {
      probes.ready().then(({ ready, checks }) => reply(ready ? 200 : 503, 'application/json', `${JSON.stringify({ ready, checks })}\n`));
    } else {
      reply(404, 'text/plain', 'try /metrics, /healthz or /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

function splitListen(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}
