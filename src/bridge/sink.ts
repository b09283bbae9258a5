// What a bridge asks of a sink, and how a sink answers. A sink never drops a record silently:
// every record it is given ends written, rejected for good (dead-lettered with a reason), or
// handed back for retry.

/** One Kafka message as the bridge received it. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Broker timestamp, ms since the epoch: the event time when a line carries none. */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface Rejected {
  record: SourceRecord;
  /** Why, for the dead-letter topic: what was wrong, in words an operator acts on. */
  reason: string;
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
}

export interface Sink {
  readonly name: string;
  /** Writes the records, in order; resolves once the sink acknowledged every one it accepted. */
  write(records: SourceRecord[]): Promise<WriteOutcome>;
  /** A cheap request that shows whether the sink answers, for /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const written = (): WriteOutcome => ({ rejected: [], retry: [] });

/** Merges outcomes of parts of one batch (a split batch, validation plus write). */
export function combine(...outcomes: WriteOutcome[]): WriteOutcome {
  const retryAfter = outcomes.map((o) => o.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  return {
    rejected: outcomes.flatMap((o) => o.rejected),
    retry: outcomes.flatMap((o) => o.retry),
    retryReason: outcomes.find((o) => o.retryReason)?.retryReason,
    ...(retryAfter.length > 0 ? { retryAfterMs: Math.max(...retryAfter) } : {}),
  };
}

export function recordText(record: SourceRecord): string {
  return record.value?.toString('utf8') ?? '';
}
