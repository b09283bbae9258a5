// Where simulated lines go: a stream (stdout or a file), the syslog receivers over TCP (one port
// per log type, newline-framed, as Fastly and varnishncsa shippers send), or the Kafka topics
// directly. Each slows the simulator down when the receiver is slow instead of buffering without
// bound: a write that the socket or stream refuses waits for 'drain', and Kafka batches wait for
// the broker's acknowledgement of the batch before them.
import { createWriteStream } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { KitConfig } from '../config/schema.js';
import type { LogType } from './lines.js';

export interface Destination {
  readonly description: string;
  /** Sends one line; returns a promise only when the caller must wait for the receiver. */
  send(type: LogType, line: string): void | Promise<void>;
  /** Sends what is buffered and closes. */
  close(): Promise<void>;
  /** Milliseconds spent waiting for a slow receiver so far. */
  waitedMs(): number;
}

/** Waits for 'drain' after a refused write, timing the wait. */
class Drains {
  waited = 0;

  write(stream: Writable, text: string): void | Promise<void> {
    if (stream.write(text)) return undefined;
    const started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        stream.off('drain', onDrain);
        stream.off('error', done);
        stream.off('close', onClose);
        this.waited += performance.now() - started;
        if (error) reject(error);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new Error('the receiver closed the connection'));
      stream.once('drain', onDrain);
      stream.once('error', done);
      stream.once('close', onClose);
    });
  }
}

/** Both log types, interleaved, one per line: for a terminal, a pipe or a file. */
export function streamDestination(target: 'stdout' | string): Destination {
  const stream: Writable = target === 'stdout' ? process.stdout : createWriteStream(target);
  const drains = new Drains();
  return {
    description: target === 'stdout' ? 'stdout' : target,
    send: (_type, line) => drains.write(stream, `${line}\n`),
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (stream === process.stdout) {
          stream.write('', () => resolve());
          return;
        }
        stream.once('error', reject);
        stream.end(() => resolve());
      }),
    waitedMs: () => drains.waited,
  };
}

function open(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error) => reject(new Error(`cannot connect to the receiver at ${host}:${port}: ${error.message}`)));
  });
}

/** The receivers' two TCP ports; a listen address of 0.0.0.0 or :: is reached on the loopback. */
export async function syslogDestination(config: KitConfig, host?: string, metricsHost?: string): Promise<Destination> {
  const listen = config.receivers.host;
  const to = host ?? (listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen);
  const metricsTo = metricsHost ?? to;
  const { logsPort, metricsPort } = config.receivers;
  const logs = await open(to, logsPort);
  let metrics: Socket;
  try {
    metrics = await open(metricsTo, metricsPort);
  } catch (error) {
    logs.destroy();
    throw error;
  }
  const drains = new Drains();
  const sockets = { logs, metrics };
  let failure: Error | undefined;
  for (const socket of [logs, metrics]) socket.on('error', (error) => (failure ??= error));
  return {
    description: `syslog TCP ${to}:${logsPort} (logs), ${metricsTo}:${metricsPort} (metrics)`,
    send(type, line) {
      if (failure) throw failure;
      return drains.write(sockets[type], `${line}\n`);
    },
    async close() {
      await Promise.all(
        [logs, metrics].map(
          (socket) =>
            new Promise<void>((resolve) => {
              socket.once('close', () => resolve());
              socket.end();
            }),
        ),
      );
      if (failure) throw failure;
    },
    waitedMs: () => drains.waited,
  };
}

/** Lines in a batch before it is sent; a batch also leaves once it is 100 ms old. */
const KAFKA_BATCH = 1000;
const KAFKA_BATCH_AGE_MS = 100;
/** Batches awaiting the broker's answer, per topic, before the simulator waits. */
const KAFKA_IN_FLIGHT = 4;

/** Straight to the topics, gzip'd and acknowledged by all in-sync replicas, like the receivers. */
export async function kafkaDestination(config: KitConfig): Promise<Destination> {
  const { default: kafkajs } = await import('kafkajs');
  const brokers = process.env.CDNKIT_KAFKA_BROKERS?.split(',') ?? config.kafka.brokers;
  const kafka = new kafkajs.Kafka({ clientId: 'cdnkit-simulate', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  let waited = 0;
  const lanes = (['logs', 'metrics'] as const).map((type) => ({
    type,
    topic: config.kafka.topics[type].name,
    batch: [] as { value: string }[],
    since: 0,
    inFlight: new Set<Promise<void>>(),
  }));
  const lane = { logs: lanes[0]!, metrics: lanes[1]! };
  // A few batches in flight per topic while the next fills; beyond that, wait for the broker.
  // A failed send fails the run when it is next waited for.
  const flush = async (l: (typeof lanes)[number]): Promise<void> => {
    const messages = l.batch;
    l.batch = [];
    if (l.inFlight.size >= KAFKA_IN_FLIGHT) {
      const started = performance.now();
      await Promise.race(l.inFlight);
      waited += performance.now() - started;
    }
    const sending: Promise<void> = producer
      .send({ topic: l.topic, acks: -1, compression: kafkajs.CompressionTypes.GZIP, messages })
      .then(() => void l.inFlight.delete(sending));
    sending.catch(() => undefined);
    l.inFlight.add(sending);
  };
  return {
    description: `Kafka ${brokers.join(',')} topics ${lane.logs.topic}, ${lane.metrics.topic}`,
    send(type, line) {
      const l = lane[type];
      if (l.batch.length === 0) l.since = performance.now();
      l.batch.push({ value: line });
      if (l.batch.length >= KAFKA_BATCH || performance.now() - l.since >= KAFKA_BATCH_AGE_MS) return flush(l);
      // A quiet lane's old batch leaves with the other lane's traffic.
      const other = lane[type === 'logs' ? 'metrics' : 'logs'];
      if (other.batch.length > 0 && performance.now() - other.since >= KAFKA_BATCH_AGE_MS) return flush(other);
      return undefined;
    },
    async close() {
      try {
        for (const l of lanes) if (l.batch.length > 0) await flush(l);
        await Promise.all(lanes.flatMap((l) => [...l.inFlight]));
      } finally {
        await producer.disconnect();
      }
    },
    waitedMs: () => waited,
  };
}
