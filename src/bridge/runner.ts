// The Kafka side of a bridge, the same for every sink: consume in a group, hand batches to the
// sink, dead-letter what it refuses, retry what it could not take, and commit a partition's offset
// only once every line up to it is acknowledged by the sink or safely in the dead-letter topic.
//
// Each partition's batches are written one after another, so the committed offset is always the
// end of a contiguous acknowledged prefix; several partitions run side by side. A batch is written
// in its partition's lane while kafkajs fetches and decodes the next one (it fetches only once
// eachBatch returns: without lanes, fetching and writing never overlapped). That next batch waits
// for room in the lane (a few chunks), so a partition holds at most a few batches. While the sink
// is down, the written chunk retries — heartbeating so the group keeps the partition — and the
// batch waiting for room blocks the fetch loop: consumption pauses instead of buffering without
// bound.
import type { Logger } from 'pino';
import kafkajs, { type Consumer, type EachBatchPayload, type Producer } from 'kafkajs';
import { deadLetter, reasonKind } from './dead-letter.js';
import type { KafkaConnection } from './kafka-client.js';
import type { Sink, SourceRecord } from './sink.js';
import type { BridgeMetrics } from './telemetry.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

export interface RunnerOptions {
  bridge: string;
  /** Brokers, TLS and SASL, built by kafkaConnection from the kit config. */
  kafka: KafkaConnection;
  groupId: string;
  topic: string;
  deadLetterTopic: string;
  sink: Sink;
  maxBatchLines: number;
  partitionsConcurrently: number;
  maxRetryDelayMs: number;
  metrics: BridgeMetrics;
  log: Logger;
}

export interface Runner {
  start(): Promise<void>;
  /** Finishes the batch in flight (or abandons its retry, uncommitted), commits, leaves the group. */
  stop(): Promise<void>;
  /** Joined the group and not crashed. */
  isConsuming(): boolean;
  /** Settles with the error when the consumer crashed for good (kafkajs will not restart it). */
  readonly crashed: Promise<Error>;
}

const FIRST_RETRY_DELAY_MS = 200;

export function createRunner(options: RunnerOptions): Runner {
  const { log, metrics, sink } = options;
  const kafka = new Kafka({
    clientId: `cdnkit-${options.bridge}`,
    ...options.kafka,
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => log[level >= logLevel.INFO ? 'info' : level >= logLevel.WARN ? 'warn' : 'error']({ kafkajs: entry }, entry.message),
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    // A batch waits at most this long for more data: the time bound on batches.
    maxWaitTimeInMs: 250,
    // And at most this much data: the size bound, and with it the bound on memory. These count
    // compressed bytes; gzip'd lines take about ten times more room once decoded.
    maxBytesPerPartition: 256 << 10,
    maxBytes: 1 << 20,
  });
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
    // Dead letters carry no key that must map to a partition: the default partitioner is fine.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  let consuming = false;
  let stopping = false;
  let reportCrash: (error: Error) => void = () => undefined;
  const crashed = new Promise<Error>((resolve) => (reportCrash = resolve));

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    consuming = true;
    log.info({ memberId: e.payload.memberId, assigned: e.payload.memberAssignment }, 'joined the consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    consuming = false;
    log.error({ error: e.payload.error?.message, restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart && !stopping) reportCrash(e.payload.error ?? new Error('the Kafka consumer crashed'));
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    consuming = false;
  });

  /** Delivers records until none is left to retry; false when the partition must be abandoned. */
  async function deliver(records: SourceRecord[], payload: EachBatchPayload): Promise<boolean> {
    let pending = records;
    let retryAfterMs: number | undefined;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        metrics.retried.inc(pending.length);
        if (!(await waitToRetry(attempt, retryAfterMs, payload))) return false;
      }
      const outcome = await sink.write(pending).catch((error: unknown) => ({
        rejected: [],
        retry: pending,
        retryReason: `unexpected sink error: ${error instanceof Error ? error.message : String(error)}`,
        retryAfterMs: undefined,
      }));
      await deadLetter(producer, options.deadLetterTopic, options.bridge, outcome.rejected);
      for (const { reason } of outcome.rejected) metrics.deadLettered.inc({ reason: reasonKind(reason) });
      metrics.written.inc(pending.length - outcome.rejected.length - outcome.retry.length);
      if (outcome.retry.length > 0) {
        log.warn({ lines: outcome.retry.length, attempt, reason: outcome.retryReason }, `${sink.name} did not take the batch; retrying`);
        retryAfterMs = outcome.retryAfterMs;
      }
      pending = outcome.retry;
    }
    return true;
  }

  /** Backs off (exponential, capped, or as the sink asked), heartbeating; false if we must let go. */
  async function waitToRetry(attempt: number, retryAfterMs: number | undefined, payload: EachBatchPayload): Promise<boolean> {
    const exponential = Math.min(options.maxRetryDelayMs, FIRST_RETRY_DELAY_MS * 2 ** (attempt - 1));
    const delay = Math.min(options.maxRetryDelayMs, retryAfterMs ?? exponential * (0.75 + Math.random() / 2));
    const until = Date.now() + delay;
    while (Date.now() < until) {
      if (!stillOurs(payload)) return false;
      await payload.heartbeat();
      await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
    }
    return stillOurs(payload);
  }

  /** False once the bridge stops or the partition was sought elsewhere: leave the rest uncommitted. */
  function stillOurs(payload: EachBatchPayload): boolean {
    return !stopping && payload.isRunning() && !payload.isStale();
  }

  /** Writes one chunk and commits up to its last offset; anything not committed is replayed later. */
  async function writeAndCommit(records: SourceRecord[], payload: EachBatchPayload): Promise<void> {
    const started = process.hrtime.bigint();
    const { topic, partition, offset: last } = records[records.length - 1]!;
    if (!(await deliver(records, payload))) {
      log.info({ partition }, 'partition revoked or bridge stopping; the unacknowledged batch will be replayed');
      return;
    }
    try {
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
    } catch (error) {
      // Commits are cumulative: the partition's next commit covers these lines, or a replay does.
      log.warn({ partition, error: (error as Error).message }, 'offset commit failed');
      return;
    }
    metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * Per partition ("topic:partition"): the chunks handed over and not yet committed or let go,
   * written one after another. A fetch brings up to about 10,000 lines a partition (256 KiB of
   * gzip'd lines), 2 or 3 chunks: with room for 4, a whole batch is handed over while the one
   * before it is still being written, so eachBatch returns and kafkajs fetches the next at once.
   * Measured: 86-93k lines/s into InfluxDB with room for 1 or 2 chunks, 110k with 4.
   */
  const lanes = new Map<string, Promise<void>[]>();
  const LANE_CHUNKS = 4;

  /**
   * A chunk that failed (say, the dead-letter topic was unreachable) must not be passed over: a
   * later chunk's commit would cover its lines. After a pause, the partition is sought back to the
   * chunk's first offset (with autoCommit off that commits nothing), which also makes the batch
   * waiting for room and the chunks queued behind it stale: they are dropped and fetched again.
   */
  async function replayFrom(records: SourceRecord[], error: unknown): Promise<void> {
    const { topic, partition, offset } = records[0]!;
    log.error({ partition, offset, error: error instanceof Error ? error.message : String(error) }, 'writing a batch failed; replaying it');
    for (const until = Date.now() + options.maxRetryDelayMs; Date.now() < until && !stopping; ) await new Promise((r) => setTimeout(r, 250));
    if (stopping) return; // left uncommitted: the next start replays it
    try {
      consumer.seek({ topic, partition, offset });
    } catch (seekError) {
      log.warn({ partition, error: (seekError as Error).message }, 'could not seek back; a restart replays the batch');
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const lane = `${batch.topic}:${batch.partition}`;
    for (let start = 0; start < batch.messages.length; start += options.maxBatchLines) {
      const queue = lanes.get(lane) ?? [];
      lanes.set(lane, queue);
      while (queue.length >= LANE_CHUNKS) {
        await Promise.race([queue[0], new Promise((r) => setTimeout(r, 1000))]);
        if (!stillOurs(payload)) return;
        await payload.heartbeat();
      }
      if (!stillOurs(payload)) return;
      const chunk = batch.messages.slice(start, start + options.maxBatchLines);
      const records: SourceRecord[] = chunk.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        timestamp: m.timestamp,
        key: m.key,
        value: m.value,
      }));
      metrics.consumed.inc(records.length);
      // After the chunk before it; skipped if that one was let go or failed (the partition is stale).
      const written: Promise<void> = (queue[queue.length - 1] ?? Promise.resolve())
        .then(() => (stillOurs(payload) ? writeAndCommit(records, payload) : undefined))
        .catch((error: unknown) => replayFrom(records, error))
        .finally(() => queue.splice(queue.indexOf(written), 1));
      queue.push(written);
      // Moves the fetch position on, not the committed offset: that waits for the sink.
      payload.resolveOffset(chunk[chunk.length - 1]!.offset);
    }
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
  }

  return {
    async start() {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConcurrently,
        eachBatch,
      });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      // The chunks being written finish and commit (or, while the sink is down, let go at once)
      // before the consumer leaves the group.
      await Promise.all([...lanes.values()].flat());
      await consumer.stop();
      await consumer.disconnect();
      await producer.disconnect();
      consuming = false;
    },
    isConsuming: () => consuming,
    crashed,
  };
}
