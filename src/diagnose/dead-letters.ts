// `cdnkit dead-letters`: reads the dead-letter topic and says why lines land there — counts by kind
// of reason (the text of the cdnkit-reason header up to its first colon, as the bridges' metric
// labels it) and source topic, and a few lines of each.
//
// It must not disturb anything: kafkajs has no assign(), so the reader is a consumer in a group of
// its own, a random throwaway id, that never commits (seek() without autoCommit commits nothing)
// and is deleted at the end. The bridges' groups and their lag are untouched. The range is fixed
// when it starts (each partition's high watermark then), so a run ends, unless it follows.
import { randomUUID } from 'node:crypto';
import kafkajs, { type KafkaMessage } from 'kafkajs';
import { DEAD_LETTER_HEADERS, reasonKind } from '../bridge/dead-letter.js';
import { kafkaBrokers, kafkaConnection, kafkaRefusal } from '../bridge/kafka-client.js';
import type { KitConfig } from '../config/schema.js';
import { connectionHint } from '../stack/setup.js';

const { Kafka, logLevel } = kafkajs;

/** Where reading starts in each partition. */
export type Since = { from: 'beginning' } | { from: 'end' } | { from: 'time'; ms: number } | { from: 'offset'; offset: number };

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `beginning`, `end`, a duration back from now (90s, 15m, 2h, 7d), an ISO-8601 time, or an offset (a whole number). */
export function parseSince(text: string, nowMs: number): Since {
  if (text === 'beginning' || text === 'end') return { from: text };
  if (/^\d+$/.test(text)) return { from: 'offset', offset: Number(text) };
  const duration = /^(\d+)([smhd])$/.exec(text);
  if (duration) return { from: 'time', ms: nowMs - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS] };
  const time = Date.parse(text);
  if (/^\d{4}-\d\d-\d\d/.test(text) && !Number.isNaN(time)) return { from: 'time', ms: time };
  throw new Error(`"${text}": write beginning, end, a duration such as 15m, 2h or 7d, an ISO-8601 time, or an offset (a whole number)`);
}

export interface DeadLetter {
  partition: number;
  offset: string;
  /** Broker time it was dead-lettered, epoch ms. */
  timestamp: number;
  reason: string;
  /** reasonKind(reason): what the summary groups by. */
  kind: string;
  bridge: string;
  sourceTopic: string;
  sourcePartition: string;
  sourceOffset: string;
  value: string;
}

export interface ReasonGroup {
  kind: string;
  sourceTopic: string;
  count: number;
  /** The first `limit` of them. */
  samples: DeadLetter[];
}

export interface DeadLetterSummary {
  topic: string;
  total: number;
  /** Per partition, the offsets read: [first, end) as fixed at the start. */
  ranges: { partition: number; from: number; to: number }[];
  /** Largest count first. */
  groups: ReasonGroup[];
}

export interface ReadOptions {
  since: Since;
  /** Samples kept per reason kind and source topic. */
  limit: number;
  /** Keep reading new dead letters (onLetter) until `signal` aborts. */
  follow: boolean;
  signal?: AbortSignal;
  /** Called with the summary of what was there when reading caught up; then each new one goes to onLetter. */
  onCaughtUp?: (summary: DeadLetterSummary) => void;
  onLetter?: (letter: DeadLetter) => void;
  /** Without progress for this long (a partition whose end is a transaction marker), a run that does not follow stops. */
  idleTimeoutMs?: number;
}

const header = (message: KafkaMessage, name: string) => {
  const value = message.headers?.[name];
  return value === undefined ? '' : Array.isArray(value) ? String(value[0]) : String(value);
};

function toLetter(partition: number, message: KafkaMessage): DeadLetter {
  const reason = header(message, DEAD_LETTER_HEADERS.reason) || '(no cdnkit-reason header)';
  return {
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    reason,
    kind: reasonKind(reason),
    bridge: header(message, DEAD_LETTER_HEADERS.bridge),
    sourceTopic: header(message, DEAD_LETTER_HEADERS.topic) || '(unknown)',
    sourcePartition: header(message, DEAD_LETTER_HEADERS.partition),
    sourceOffset: header(message, DEAD_LETTER_HEADERS.offset),
    value: message.value?.toString('utf8') ?? '',
  };
}

export async function readDeadLetters(config: KitConfig, options: ReadOptions): Promise<DeadLetterSummary> {
  const topic = config.kafka.topics.deadLetter.name;
  const brokers = kafkaBrokers(config);
  const connection = kafkaConnection(brokers, config.kafka);
  const kafka = new Kafka({ ...connection, clientId: 'cdnkit-dead-letters', logLevel: logLevel.NOTHING, retry: { retries: 2 }, connectionTimeout: 5000, requestTimeout: 10_000 });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw kafkaRefusal(error, connection, config.kafka) ?? connectionHint('kafka', brokers.join(','), error);
  }
  let watermarks: { partition: number; low: number; high: number }[];
  let starts: Map<number, number>;
  try {
    if (!(await admin.listTopics()).includes(topic)) throw new Error(`the dead-letter topic ${topic} (kafka.topics.deadLetter.name) does not exist at ${brokers.join(',')}`);
    watermarks = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }));
    const { since } = options;
    const byTime = since.from === 'time' ? await admin.fetchTopicOffsetsByTimestamp(topic, since.ms) : [];
    starts = new Map(
      watermarks.map(({ partition, low, high }) => {
        const start =
          since.from === 'beginning' ? low
          : since.from === 'end' ? high
          : since.from === 'offset' ? Math.min(high, Math.max(low, since.offset))
          : Number(byTime.find((p) => p.partition === partition)?.offset ?? high);
        return [partition, start];
      }),
    );
  } catch (error) {
    await admin.disconnect();
    throw error;
  }

  const groups = new Map<string, ReasonGroup>();
  let total = 0;
  const summary = (): DeadLetterSummary => ({
    topic,
    total,
    ranges: watermarks.map(({ partition, high }) => ({ partition, from: starts.get(partition)!, to: high })),
    groups: [...groups.values()].sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind)),
  });
  const count = (letter: DeadLetter) => {
    total++;
    const key = `${letter.kind}\u0000${letter.sourceTopic}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { kind: letter.kind, sourceTopic: letter.sourceTopic, count: 0, samples: [] }));
    group.count++;
    if (group.samples.length < options.limit) group.samples.push(letter);
  };

  const behind = new Set(watermarks.filter(({ partition, high }) => starts.get(partition)! < high).map((p) => p.partition));
  if (behind.size === 0 && !options.follow) {
    await admin.disconnect();
    return summary();
  }

  const groupId = `cdnkit-dead-letters-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let caughtUp = false;
    let lastProgress = Date.now();
    await new Promise<void>((resolve, reject) => {
      const finish = () => {
        clearInterval(idle);
        options.signal?.removeEventListener('abort', finish);
        resolve();
      };
      const catchUp = () => {
        if (caughtUp || behind.size > 0) return;
        caughtUp = true;
        options.onCaughtUp?.(summary());
        if (!options.follow) finish();
      };
      // A run that does not follow stops when nothing comes for a while, e.g. a partition that
      // ends in a transaction marker, which no message ever reaches.
      const idle = setInterval(() => {
        if (!caughtUp && !options.follow && Date.now() - lastProgress > (options.idleTimeoutMs ?? 15_000)) {
          behind.clear();
          catchUp();
        }
      }, 500);
      options.signal?.addEventListener('abort', finish, { once: true });
      if (options.signal?.aborted) return finish();
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const offset = Number(message.offset);
            const end = watermarks.find((w) => w.partition === partition)?.high ?? 0;
            if (offset < starts.get(partition)!) return;
            lastProgress = Date.now();
            const letter = toLetter(partition, message);
            if (offset < end) count(letter);
            else if (caughtUp) options.onLetter?.(letter);
            if (offset + 1 >= end) behind.delete(partition);
            catchUp();
          },
        })
        .then(() => {
          // Seeks take effect once the group has assigned the partitions: no offset is committed.
          for (const [partition, offset] of starts) consumer.seek({ topic, partition, offset: String(offset) });
          catchUp();
        }, reject);
    });
  } finally {
    await consumer.disconnect();
    // Kafka would drop the empty group itself within minutes; deleting it keeps the group list clean
    // at once. Without the DELETE right on groups it just stays until then.
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return summary();
}

/** A line as the terminal may show it: JSON-escaped (control characters visible), cut at `max` characters. */
export function sampleText(value: string, max = 200): string {
  const cut = value.length > max ? `${value.slice(0, max)}` : value;
  return `${JSON.stringify(cut)}${value.length > max ? ` … (${value.length} characters)` : ''}`;
}

export function formatLetter(letter: DeadLetter, maxChars?: number): string[] {
  const when = Number.isFinite(letter.timestamp) ? new Date(letter.timestamp).toISOString() : '?';
  return [
    `  ${letter.sourceTopic}[${letter.sourcePartition}]@${letter.sourceOffset} -> partition ${letter.partition} offset ${letter.offset}, ${when}, by the ${letter.bridge || '?'} bridge: ${letter.reason}`,
    `    ${sampleText(letter.value, maxChars)}`,
  ];
}

export function formatSummary(summary: DeadLetterSummary, maxChars?: number): string[] {
  const ranges = summary.ranges.map((r) => `partition ${r.partition}: ${r.from < r.to ? `offsets ${r.from}..${r.to - 1}` : `nothing from offset ${r.from}`}`).join(', ');
  const lines = [`${summary.topic}: ${summary.total} dead letter(s) read (${ranges || 'no partitions'})`];
  if (summary.total === 0) return lines;
  const width = Math.max(5, ...summary.groups.map((g) => String(g.count).length));
  lines.push('', `${'count'.padStart(width)}  reason kind (cdnkit-reason up to ":")  <- source topic`);
  for (const g of summary.groups) lines.push(`${String(g.count).padStart(width)}  ${g.kind}  <- ${g.sourceTopic}`);
  for (const g of summary.groups) {
    lines.push('', `${g.kind} <- ${g.sourceTopic}: ${g.count}, ${g.samples.length < g.count ? `the first ${g.samples.length}` : 'all'}:`);
    for (const s of g.samples) lines.push(...formatLetter(s, maxChars));
  }
  return lines;
}
