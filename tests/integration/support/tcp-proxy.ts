// A TCP proxy in front of a real sink, so a test can take the sink away from a bridge (connections
// refused, open ones cut) or make it hang, and give it back, without stopping the server other
// tests share.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** Refuse new connections and cut open ones: to the bridge, the sink is down. */
  cut(): Promise<void>;
  /** Listen again on the same port. */
  restore(): Promise<void>;
  /** Pass no bytes on, either way, on open connections and new ones: to the bridge, the sink hangs. */
  hold(): void;
  /** Pass the held bytes on. */
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port: targetPort, protocol } = new URL(target);
  const sockets = new Set<Socket>();
  let held = false;
  /** Like pipe(), but a held socket stays paused whatever its destination drains. */
  const relay = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!held) from.resume();
    });
    from.on('end', () => to.end());
  };
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(Number(targetPort), hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        relay(client, upstream);
        relay(upstream, client);
        if (held) for (const s of [client, upstream]) s.pause();
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      sockets.forEach((s) => s.destroy());
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await listen();
  const hold = () => {
    held = true;
    sockets.forEach((s) => s.pause());
  };
  const release = () => {
    held = false;
    sockets.forEach((s) => s.resume());
  };
  return { port, url: `${protocol}//127.0.0.1:${port}`, cut, restore: listen, hold, release, close: cut };
}
