// A tiny origin for CDN tests: GET /status/NNN answers with that status.
import { createServer, type Server } from 'node:http';

export interface Origin {
  port: number;
  close(): Promise<void>;
}

export async function startOrigin(): Promise<Origin> {
  // Large header limit: tests send 10 KB header values through the CDN to here.
  const server: Server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    const status = Number(/^\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
    res.writeHead(status, { 'content-type': 'text/plain', 'x-cache': 'MISS' });
    res.end(`origin answered ${status}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
