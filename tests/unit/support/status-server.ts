// A throwaway HTTP server on 127.0.0.1 that answers what a test tells it to, for unit-testing a
// sink's response table row by row (Telegraf tests its outputs the same way). The real servers
// are tested in tests/integration; this one answers what they cannot be made to (a 413 for one
// line, a proxy's 408, a 401 from a secured cluster).
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON. */
  body?: string | object;
}

export interface Request {
  method: string;
  url: string;
  /** Decoded (gunzip'd when sent gzip'd). */
  body: string;
  /** The body's bytes, gunzip'd when sent gzip'd. */
  bytes: Buffer;
  /** Lower-cased names, as Node gives them. */
  headers: IncomingHttpHeaders;
}

/** How to answer a request; `'drop'` closes the connection without an answer. */
export type Responder = (request: Request) => Reply | 'drop';

export interface StatusServer {
  url: string;
  /** Every request so far, in order. */
  readonly requests: Request[];
  close(): Promise<void>;
}

export async function statusServer(respond: Responder): Promise<StatusServer> {
  const requests: Request[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const bytes = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    const request = { method: req.method ?? '', url: req.url ?? '', body: bytes.toString('utf8'), bytes, headers: req.headers };
    requests.push(request);
    const reply = respond(request);
    if (reply === 'drop') {
      req.socket.destroy();
      return;
    }
    const json = typeof reply.body === 'object';
    const body = json ? JSON.stringify(reply.body) : (reply.body ?? '');
    res.writeHead(reply.status, { ...(json ? { 'content-type': 'application/json' } : {}), ...reply.headers });
    res.end(body);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
