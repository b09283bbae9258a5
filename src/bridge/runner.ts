// The Kafka side of a bridge, the same for every sink: consume in a group, hand batches to the
// sink, dead-letter what it refuses, retry what it could not take, and commit a partition's offset
// only once every line up to it is acknowledged by the sink or safely in the dead-letter topic.
//
// eachBatch splits each fetched batch into chunks (bounded by lines and bytes) and hands them to
// their partition's lane (lanes.ts), which writes them in order while kafkajs fetches the next
// batch; chunks that queue up behind a slow write join into one write, within the same bounds.
// Handing over waits for room (the lines and bytes held, the writes in flight), so while the sink
// is down consumption pauses instead of buffering without bound. The consumer-lag gauge is
// refreshed on a timer from the group's committed offsets, so it keeps growing in an outage.
import type { Logger } from 'pino';
import kafkajs, { type Admin, type Consumer, type EachBatchPayload, type Producer } from 'kafkajs';
import { deadLetter, reasonKind } from './dead-letter.js';
import { classifyKafkaError } from './kafka-errors.js';
import type { KafkaConnection } from './kafka-client.js';
import { laneKey, Lanes, splitIntoChunks, type Chunk } from './lanes.js';
import type { Sink, SourceRecord, WriteOutcome } from './sink.js';
import { LAG_REFRESH_MS, type BridgeMetrics } from './telemetry.js';

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
  maxBatchBytes: number;
  maxHeldLines: number;
  maxHeldBytes: number;
  maxConcurrentWrites: number;
  maxRetryDelayMs: number;
  metrics: BridgeMetrics;
  log: Logger;
}

export interface Runner {
  start(): Promise<void>;
  /** Finishes the chunks being written (or abandons their retries, uncommitted), commits, leaves the group. */
  stop(): Promise<void>;
  /** Joined the group and not crashed. */
  isConsuming(): boolean;
  /** Settles with the error when the consumer crashed for good (kafkajs will not restart it). */
  readonly crashed: Promise<Error>;
}

const FIRST_RETRY_DELAY_MS = 200;
const COMMIT_ATTEMPTS = 5;

/** A chunk as the runner hands it over: its records, and how to commit on the consumer that fetched it. */
interface RecordChunk extends Chunk {
  records: SourceRecord[];
  payload: EachBatchPayload;
  /** process.hrtime.bigint() when handed over: the batch-duration histogram runs from here to the commit. */
  handedAt: bigint;
}

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
  // The lag refresh has its own few retries: a timer must not queue up behind an unreachable Kafka.
  const admin: Admin = kafka.admin({ retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2000 } });
  let consuming = false;
  let stopping = false;
  /** Goes into every record: the logs sink makes document ids with it (documentId). */
  let clusterId: string | undefined;
  let reportCrash: (error: Error) => void = () => undefined;
  const crashed = new Promise<Error>((resolve) => (reportCrash = resolve));

  const lanes = new Lanes<RecordChunk>(
    {
      maxHeldLines: options.maxHeldLines,
      maxHeldBytes: options.maxHeldBytes,
      maxConcurrentWrites: options.maxConcurrentWrites,
      replayDelayMs: options.maxRetryDelayMs,
    },
    {
      deliver,
      // One attempt, on the consumer that fetched the chunk: kafkajs's own commit retries for as
      // long as it likes, and a retry after a rebalance would commit for the new generation.
      async commit(chunk, next) {
        await chunk.payload.commitOffsetsIfNecessary({ topics: [{ topic: chunk.topic, partitions: [{ partition: chunk.partition, offset: next }] }] });
        metrics.batchSeconds.observe(Number(process.hrtime.bigint() - chunk.handedAt) / 1e9);
      },
      retryCommit(chunk, error, attempt) {
        const info = classifyKafkaError(error);
        const again = info.kind === 'retriable' && attempt < COMMIT_ATTEMPTS;
        // Commits are cumulative: the partition's next commit covers these lines, a replay does, or
        // the lanes commit them again on the lag refresh's tick (commitOwed).
        if (info.kind === 'rebalance') log.info({ partition: chunk.partition, error: info }, 'offset commit refused: the group is rebalancing');
        else log.warn({ partition: chunk.partition, attempt, error: info }, again ? 'offset commit failed; trying again' : 'offset commit failed; committing again with the next batch, or in a few seconds');
        return again;
      },
      seek: (chunk) => consumer.seek({ topic: chunk.topic, partition: chunk.partition, offset: chunk.first }),
      failed(chunk, error) {
        const info = classifyKafkaError(error);
        const where = { partition: chunk.partition, offset: chunk.first, error: info };
        if (info.kind === 'fatal') log.error(where, 'writing a batch failed; replaying it');
        else if (info.kind === 'retriable') log.warn(where, 'Kafka is unavailable for now; replaying the batch after a pause');
        else log.info(where, 'the group is rebalancing; the batch is fetched again by whoever owns its partition');
      },
      letGo(chunk, why) {
        const where = { partition: chunk.partition, offset: chunk.first, lines: chunk.lines, why };
        if (why === 'revoked') log.info(where, 'partition no longer ours: its chunk is left uncommitted to its new owner');
        else log.debug(where, 'chunk left uncommitted; it is fetched again');
      },
      halted(error) {
        log.error({ error: error.message }, 'could not seek back to a failed batch; crashing so that a restart resumes from the last commit');
        consuming = false;
        reportCrash(error);
      },
      append(queued, next) {
        if (queued.lines + next.lines > options.maxBatchLines || queued.bytes + next.bytes > options.maxBatchBytes) return false;
        queued.records = queued.records.concat(next.records);
        return true;
      },
      observe({ heldLines, heldBytes, writes }) {
        metrics.heldLines.set(heldLines);
        metrics.heldBytes.set(heldBytes);
        metrics.writesInFlight.set(writes);
      },
    },
  );

  // The assignment that commits are checked against. kafkajs announces it a microtask after it
  // starts committing for the new generation: a commit starting in between could still cover a
  // partition just lost, though only with lines this member wrote, so nothing is skipped.
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    consuming = true;
    const assigned = Object.entries(e.payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => laneKey(topic, p)));
    lanes.assign(assigned);
    log.info({ memberId: e.payload.memberId, assigned: e.payload.memberAssignment }, 'joined the consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    consuming = false;
    log.error({ error: classifyKafkaError(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart && !stopping) reportCrash(e.payload.error ?? new Error('the Kafka consumer crashed'));
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    consuming = false;
  });

  /** Delivers a chunk's records until none is left to retry; false when they must be let go. */
  async function deliver(chunk: RecordChunk, stillOurs: () => boolean): Promise<boolean> {
    let pending = chunk.records;
    let retryAfterMs: number | undefined;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        metrics.retried.inc(pending.length);
        if (!(await waitToRetry(attempt, retryAfterMs, stillOurs))) return false;
      }
      const batch = pending;
      const outcome: WriteOutcome = await lanes.writeSlot(() =>
        sink.write(batch).catch((error: unknown) => ({
          rejected: [],
          retry: batch,
          retryReason: `unexpected sink error: ${error instanceof Error ? error.message : String(error)}`,
          retryAfterMs: undefined,
        })),
      );
      await deadLetter(producer, options.deadLetterTopic, options.bridge, outcome.rejected);
      for (const { reason } of outcome.rejected) metrics.deadLettered.inc({ reason: reasonKind(reason) });
      metrics.written.inc(pending.length - outcome.rejected.length - outcome.retry.length);
      if (outcome.retry.length > 0) {
        // A hold waits on an operator (wrong token, missing index, read-only cluster): an error, not a warning.
        log[outcome.hold ? 'error' : 'warn']({ lines: outcome.retry.length, attempt, reason: outcome.retryReason, hold: outcome.hold ?? false }, `${sink.name} did not take the batch; retrying`);
        retryAfterMs = outcome.retryAfterMs;
      }
      pending = outcome.retry;
    }
    return true;
  }

  /** Backs off (exponential, capped, or as the sink asked); false once the chunk must be let go. */
  async function waitToRetry(attempt: number, retryAfterMs: number | undefined, stillOurs: () => boolean): Promise<boolean> {
    const exponential = Math.min(options.maxRetryDelayMs, FIRST_RETRY_DELAY_MS * 2 ** (attempt - 1));
    const delay = Math.min(options.maxRetryDelayMs, retryAfterMs ?? exponential * (0.75 + Math.random() / 2));
    for (const until = Date.now() + delay; stillOurs() && Date.now() < until; ) await lanes.changed(until - Date.now());
    return stillOurs();
  }

  /** Whether this batch may still be handed over: the bridge goes on and no seek made it stale. */
  function stillFetching(payload: EachBatchPayload): boolean {
    return lanes.accepting() && payload.isRunning() && !payload.isStale();
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const messageBytes = (m: (typeof batch.messages)[number]) => (m.value?.length ?? 0) + (m.key?.length ?? 0);
    for (const chunk of splitIntoChunks(batch.messages, messageBytes, options.maxBatchLines, options.maxBatchBytes)) {
      // Waiting for room pauses the fetch loop: heartbeat meanwhile, so the group keeps us.
      while (!lanes.hasRoom(batch.topic, batch.partition, chunk.items.length, chunk.bytes)) {
        await lanes.changed(1000);
        if (!stillFetching(payload)) return;
        await payload.heartbeat();
      }
      if (!stillFetching(payload)) return;
      const records: SourceRecord[] = chunk.items.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        timestamp: m.timestamp,
        key: m.key,
        value: m.value,
        clusterId,
      }));
      metrics.consumed.inc(records.length);
      const last = records[records.length - 1]!.offset;
      lanes.handOver({ topic: batch.topic, partition: batch.partition, first: records[0]!.offset, last, lines: records.length, bytes: chunk.bytes, records, payload, handedAt: process.hrtime.bigint() });
      // Moves the fetch position on, not the committed offset: that waits for the sink.
      payload.resolveOffset(last);
    }
  }

  /**
   * Lag per assigned partition: the high watermark minus the group's committed offset (the
   * earliest retained offset before the first commit), as Kafka itself reports it, so it grows
   * while nothing is committed.
   */
  async function refreshLag(): Promise<void> {
    const [committed] = await admin.fetchOffsets({ groupId: options.groupId, topics: [options.topic] });
    const watermarks = await admin.fetchTopicOffsets(options.topic);
    metrics.lag.reset();
    for (const { partition, high, low } of watermarks) {
      if (!lanes.isAssigned(laneKey(options.topic, partition))) continue;
      const offset = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
      metrics.lag.set({ topic: options.topic, partition: String(partition) }, Math.max(0, Number(high) - (offset >= 0 ? offset : Number(low))));
    }
  }

  let lagTimer: NodeJS.Timeout | undefined;
  let lagRefresh: Promise<void> = Promise.resolve();
  let lagFailing = false;
  function scheduleLag(delayMs: number): void {
    lagTimer = setTimeout(() => {
      // The same tick retries commits given up while Kafka was unavailable: a quiet partition
      // has no next batch whose commit would cover them.
      lanes.commitOwed();
      lagRefresh = refreshLag().then(
        () => {
          if (lagFailing) log.info('consumer lag readable again');
          lagFailing = false;
        },
        (error: unknown) => {
          if (!lagFailing) log.warn({ error: classifyKafkaError(error) }, 'cannot read the consumer lag; the gauge keeps its last values');
          lagFailing = true;
        },
      );
      void lagRefresh.then(() => {
        if (!stopping) scheduleLag(LAG_REFRESH_MS);
      });
    }, delayMs);
  }

  return {
    async start() {
      await producer.connect();
      await admin.connect();
      clusterId = (await admin.describeCluster()).clusterId;
      await consumer.connect();
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      // One partition's batch at a time (kafkajs's default): handing over is quick, and the bounds
      // that matter — lines held, writes in flight — are the lanes'.
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
      scheduleLag(0);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      clearTimeout(lagTimer);
      // The chunks being written finish and commit (or, while the sink is down, let go at once)
      // before the consumer leaves the group.
      await lanes.stop();
      await lagRefresh;
      await consumer.stop();
      await consumer.disconnect();
      await admin.disconnect();
      await producer.disconnect();
      consuming = false;
    },
    isConsuming: () => consuming && !lanes.halted,
    crashed,
  };
}
