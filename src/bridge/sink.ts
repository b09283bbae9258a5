// What a bridge asks of a sink, and how a sink answers. A sink never drops a record silently:
// every record it is given ends written, rejected for good (dead-lettered with a reason), or
// handed back for retry.
//
// Each sink sorts every answer it can get (a response, an item of a bulk response, no answer at
// all) through one response table of its own: a list of rules, the first that matches decides.

/** One Kafka message as the bridge received it. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Broker timestamp, ms since the epoch: the event time when a line carries none. */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  /**
   * The Kafka cluster's id, when the runner knows it. With the timestamp it tells apart two
   * messages at the same topic, partition and offset: another cluster's, or a recreated topic's.
   */
  clusterId?: string;
}

export interface Rejected {
  record: SourceRecord;
  /** Why, for the dead-letter topic: what was wrong, in words an operator acts on. */
  reason: string;
  /**
   * The line to dead-letter when it is not the Kafka message itself: the line as the edge sent
   * it, out of the envelope a receiver put around it (Logstash's parse-failure event).
   */
  value?: string;
}

export interface WriteOutcome {
  /** Refused for good: the record itself is at fault (malformed, type conflict, mapping error). */
  rejected: Rejected[];
  /** Not written this time through no fault of the record (sink down, overloaded): try again. */
  retry: SourceRecord[];
  /** Why the retry is needed, for logs and metrics. */
  retryReason?: string;
  /** When the sink said how long to wait (Retry-After). */
  retryAfterMs?: number;
  /**
   * The retry is a hold: the sink refused for a reason no record causes and only an operator
   * mends (a wrong token, a missing bucket or index, a read-only cluster). The runner retries it
   * like any retry and never dead-letters it; it should log it as an error, not a warning.
   */
  hold?: boolean;
}

export interface Sink {
  readonly name: string;
  /**
   * Every kind of reason (dead-letter.ts reasonKind) its dead letters can have: the bridge counts
   * each from 0 at start, so rate() sees the first dead letter of a kind as an increase.
   */
  readonly deadLetterKinds: readonly string[];
  /** Writes the records, in order; resolves once the sink acknowledged every one it accepted. */
  write(records: SourceRecord[]): Promise<WriteOutcome>;
  /** A cheap request that shows whether the sink answers, for /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What a sink does with an answer:
 * - written: acknowledged;
 * - retry: not taken this time (overloaded, unreachable): back off, as long as Retry-After says
 *   when it says;
 * - hold: refused for a reason that is not the data's (see WriteOutcome.hold): retry, loudly;
 * - split: the request as a whole was refused (too large, a partial write): write each half
 *   again, until the refused records stand alone, and dead-letter those;
 * - dead-letter: the record itself is wrong, for good.
 */
export type Verdict = 'written' | 'retry' | 'hold' | 'split' | 'dead-letter';

/** The status a response table matches when no HTTP answer came (refused, reset, timed out). */
export const NO_ANSWER = 0;

/** An answer, as a response table sees it. */
export interface Answer {
  /** HTTP status, or NO_ANSWER. */
  status: number;
  /** The error type the server named (Elasticsearch's error.type), if any. */
  errorType?: string;
}

/** One row of a response table. A row without `status` or `errorType` matches any answer. */
export interface ResponseRule {
  /** Statuses, and inclusive ranges of them. */
  status?: readonly (number | readonly [from: number, to: number])[];
  errorType?: readonly string[];
  verdict: Verdict;
  /** What the answer means, for the retry or dead-letter reason. */
  meaning: string;
}

/** The first rule that matches; every table ends with a rule that matches anything. */
export function ruleFor(table: readonly ResponseRule[], answer: Answer): ResponseRule {
  const rule = table.find(
    (r) =>
      (r.status === undefined || r.status.some((s) => (typeof s === 'number' ? s === answer.status : answer.status >= s[0] && answer.status <= s[1]))) &&
      (r.errorType === undefined || (answer.errorType !== undefined && r.errorType.includes(answer.errorType))),
  );
  if (!rule) throw new Error(`response table without a catch-all row: nothing matches ${JSON.stringify(answer)}`);
  return rule;
}

/**
 * Retry-After in ms: delay-seconds or an HTTP date (RFC 9110 10.2.3); undefined when absent,
 * unreadable or already past.
 */
export function retryAfterMs(header: string | string[] | null | undefined, now = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export const written = (): WriteOutcome => ({ rejected: [], retry: [] });

/** An answer a sink got for some of its records, to be sorted through its table. */
export interface Answered<T extends { record: SourceRecord }> {
  /** The sink's name, for reasons: "influxdb 404 (check org and bucket): …". */
  sink: string;
  table: readonly ResponseRule[];
  answer: Answer;
  /** What the server (or the network) said. */
  message: string;
  /** The records it answered for: a whole request's, or one bulk item's. */
  batch: T[];
  /** Writes part of the batch again, for a split. */
  resend: (part: T[]) => Promise<WriteOutcome>;
  /** From Retry-After. */
  waitMs?: number | undefined;
}

/** Does with the batch what the table says about the answer: the one place both sinks decide. */
export async function sortAnswer<T extends { record: SourceRecord }>({ sink, table, answer, message, batch, resend, waitMs }: Answered<T>): Promise<WriteOutcome> {
  const { verdict, meaning } = ruleFor(table, answer);
  const said = (answer.status === NO_ANSWER ? `${meaning}: ${message}` : `${sink} ${answer.status} (${meaning}): ${message}`).slice(0, 1000);
  const records = batch.map((p) => p.record);
  switch (verdict) {
    case 'written':
      return written();
    case 'retry':
      return notTaken(records, 'retry', said, waitMs);
    case 'hold':
      return notTaken(records, 'hold', said);
    case 'split':
    case 'dead-letter': {
      if (verdict === 'dead-letter' || batch.length === 1) {
        const reason = `${meaning}: ${message}`.slice(0, 1000);
        return { rejected: records.map((record) => ({ record, reason })), retry: [] };
      }
      const half = Math.ceil(batch.length / 2);
      return combine(await resend(batch.slice(0, half)), await resend(batch.slice(half)));
    }
  }
}

/** Records handed back under a retry or hold verdict. */
function notTaken(records: SourceRecord[], verdict: 'retry' | 'hold', reason: string, waitMs?: number): WriteOutcome {
  return { rejected: [], retry: records, retryReason: reason, ...(waitMs !== undefined ? { retryAfterMs: waitMs } : {}), ...(verdict === 'hold' ? { hold: true } : {}) };
}

/** Merges outcomes of parts of one batch (a split batch, validation plus write). A hold's reason comes first. */
export function combine(...outcomes: WriteOutcome[]): WriteOutcome {
  const retryAfter = outcomes.map((o) => o.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  const held = outcomes.find((o) => o.hold);
  return {
    rejected: outcomes.flatMap((o) => o.rejected),
    retry: outcomes.flatMap((o) => o.retry),
    retryReason: (held ?? outcomes.find((o) => o.retryReason))?.retryReason,
    ...(retryAfter.length > 0 ? { retryAfterMs: Math.max(...retryAfter) } : {}),
    ...(held ? { hold: true } : {}),
  };
}

export function recordText(record: SourceRecord): string {
  return record.value?.toString('utf8') ?? '';
}
