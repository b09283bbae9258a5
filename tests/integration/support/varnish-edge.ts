// A Varnish edge built from the generated files alone: a node origin behind varnishd running
// example.vcl (which includes cdnkit.vcl) with the parameters cdnkit-varnishncsa.sh asks for, and
// that script, for logs and for metrics, shipping to TCP listeners in this process.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inject } from 'vitest';
import { EXAMPLE_BACKEND, generateVarnish, VARNISHD_PARAMS } from '../../../generators/varnish.js';
import type { KitConfig } from '../../../src/config/schema.js';
import { startOrigin } from './origin.js';
import { freePort, sleep, spawnChild } from '../../../src/local/process.js';
import { eventually } from './wait.js';

/** A TCP listener standing in for a cdnkit receiver: collects newline-framed lines as bytes. */
export interface LineReceiver {
  port: number;
  lines: Buffer[];
  close(): Promise<void>;
}

export async function startLineReceiver(): Promise<LineReceiver> {
  const lines: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf(0x0a); end >= 0; end = pending.indexOf(0x0a)) {
        lines.push(pending.subarray(0, end));
        pending = pending.subarray(end + 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    lines,
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

export interface VarnishEdge {
  /** server.identity, set with varnishd -i. */
  identity: string;
  /** Where the generated files were written (varnish/…); removed by stop(). */
  dir: string;
  logs: LineReceiver;
  metrics: LineReceiver;
  /** Sends raw request bytes; resolves with the status varnishd answered. */
  send(request: Buffer): Promise<number>;
  /** Sends raw request bytes; resolves with the status and the response's head (status line and headers). */
  exchange(request: Buffer): Promise<RawResponse>;
  /** varnishd's and the scripts' output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}




export interface RawResponse {
  status: number;
  head: string;
}

/** One HTTP/1.1 exchange on its own connection; the status from the response's first line. */
export function exchangeRaw(port: number, request: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (status) resolve({ status: Number(status[1]), head: text.split('\r\n\r\n')[0]! });
      else reject(new Error(`no HTTP response: ${text.slice(0, 200)}`));
    });
    socket.end(request);
  });
}

export async function sendRaw(port: number, request: Buffer): Promise<number> {
  return (await exchangeRaw(port, request)).status;
}

/**
 * `knockHeaders`: header lines that make a 404 produce a line in both streams (with the reference
 * config, any request does). `rewriteExample`: changes example.vcl into the user VCL a test needs.
 */
export async function startVarnishEdge(
  config: KitConfig,
  knockHeaders: string[] = [],
  rewriteExample: (example: string) => string = (example) => example,
): Promise<VarnishEdge> {
  const tools = inject('tools');
  const dir = mkdtempSync(join(tmpdir(), 'cdnkit-varnish-'));
  for (const artifact of generateVarnish(config)) {
    mkdirSync(dirname(join(dir, artifact.path)), { recursive: true });
    writeFileSync(join(dir, artifact.path), artifact.content);
  }
  const files = join(dir, 'varnish');
  const script = join(files, 'cdnkit-varnishncsa.sh');
  chmodSync(script, 0o755);

  const origin = await startOrigin();
  const children: ChildProcess[] = [];
  const receivers: LineReceiver[] = [];
  let output = '';
  const collect = (name: string, child: ChildProcess) => {
    children.push(child);
    const add = (chunk: Buffer) => (output = (output + `[${name}] ${chunk.toString('utf8')}`).slice(-20_000));
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    child.on('exit', (code, signal) => add(Buffer.from(`exited: ${code ?? signal}\n`)));
  };
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.all([origin.close(), ...receivers.map((r) => r.close())]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // example.vcl exactly as generated, but for the port of its placeholder backend.
    const examplePath = join(files, 'example.vcl');
    const example = readFileSync(examplePath, 'utf8');
    const placeholder = `.port = "${EXAMPLE_BACKEND.port}";`;
    if (!example.includes(placeholder)) throw new Error(`example.vcl has no ${placeholder} to point at the test origin`);
    writeFileSync(examplePath, rewriteExample(example.replace(placeholder, `.port = "${origin.port}";`)));

    const identity = 'cdnkit-test-edge';
    const port = await freePort();
    const params = VARNISHD_PARAMS.flatMap((p) => p.param.split(' ')).flatMap((p) => ['-p', p]);
    const instance = join(dir, 'instance'); // varnishncsa -n needs an absolute path
    // -F: foreground; -T none: no management port; -j none: no privilege separation (not root here).
    const varnishd = spawnChild(
      tools.varnishd,
      ['-F', '-n', instance, '-a', `127.0.0.1:${port}`, '-T', 'none', '-j', 'none', '-f', examplePath, '-s', 'malloc,32m', '-i', identity, ...params],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    collect('varnishd', varnishd);
    await eventually('varnishd to answer', () => output.includes('Child launched OK') || varnishd.exitCode !== null, 60_000, () => output);
    if (varnishd.exitCode !== null) throw new Error(`varnishd refused to start:\n${output}`);

    const [logs, metrics] = [await startLineReceiver(), await startLineReceiver()];
    receivers.push(logs, metrics);
    const env = {
      ...process.env,
      PATH: `${dirname(tools.varnishncsa)}:${process.env.PATH ?? ''}`,
      CDNKIT_RECEIVER_HOST: '127.0.0.1',
      CDNKIT_LOGS_PORT: String(logs.port),
      CDNKIT_METRICS_PORT: String(metrics.port),
      VARNISH_NAME: instance,
    };
    for (const type of ['logs', 'metrics']) collect(`varnishncsa ${type}`, spawnChild(script, [type], { env, stdio: ['ignore', 'pipe', 'pipe'] }));

    // varnishncsa starts reading at the end of the log: knock until both have seen a request,
    // then let stragglers arrive and forget them.
    const send = (request: Buffer) => sendRaw(port, request);
    const knock = Buffer.from(
      `GET /status/404/cdnkit-knock HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n${knockHeaders.map((h) => `${h}\r\n`).join('')}\r\n`,
    );
    const deadline = Date.now() + 20_000;
    while (logs.lines.length === 0 || metrics.lines.length === 0) {
      if (Date.now() > deadline) throw new Error(`varnishncsa never shipped a line\n${output}`);
      // The manager binds the listen socket, the cache child's acceptor calls listen(): on a busy
      // machine that can come after "Child launched OK", and until then connections are refused.
      await send(knock).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNREFUSED') throw error;
      });
      await sleep(200);
    }
    await sleep(500);
    logs.lines.length = 0;
    metrics.lines.length = 0;

    return { identity, dir, logs, metrics, send, exchange: (request) => exchangeRaw(port, request), output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
