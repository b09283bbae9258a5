// The lanes between kafkajs and a sink: each partition's chunks are written one after another, so
// a partition's committed offset is always the end of a contiguous acknowledged prefix, while
// kafkajs fetches the next batch (it fetches only once eachBatch returns: without lanes, fetching
// and writing never overlapped).
//
// What this module guarantees, and its unit tests check, whatever Kafka does:
// - bounds: the lines and bytes handed over and not yet committed (or let go), and the sink
//   writes in flight, stay within the settings; eachBatch waits for room, which pauses
//   consumption while the sink is down instead of buffering without bound;
// - a chunk that failed is never passed over: its lane is broken at once, so no chunk behind it
//   is written or committed; the partition is fetched again from the failed chunk (a seek), and
//   if that seek throws the lanes halt — nothing is committed any more and the consumer crashes,
//   so a restart resumes from the last commit;
// - a partition is committed only while it is assigned to this member: after a rebalance its
//   queued chunks are let go (kafkajs fetches every kept partition again from its committed
//   offset) and a revoked partition's chunk in flight finishes without committing;
// - an acknowledged chunk whose commit was given up (Kafka unavailable through every attempt) is
//   owed: the partition's next commit covers it, and `commitOwed` commits it again for a partition
//   that stays quiet, whose lag would otherwise never come down.
// Kafka itself stays outside: the runner supplies how to write, commit and seek.

/** A run of consecutive messages of one partition, written and committed as one. */
export interface Chunk {
  topic: string;
  partition: number;
  /** Offsets of its first and last message. */
  first: string;
  last: string;
  lines: number;
  bytes: number;
}

export interface LaneBounds {
  maxHeldLines: number;
  maxHeldBytes: number;
  maxConcurrentWrites: number;
  /** Pause after a failed chunk before it is fetched again. */
  replayDelayMs: number;
}

/** Why a chunk was not committed though nothing failed. */
export type LetGo = 'revoked' | 'rebalanced' | 'stopping' | 'halted' | 'behind a failed chunk';

export interface LaneWork<C extends Chunk> {
  /** Writes the chunk until the sink acknowledged it: true; false once `stillOurs` turned false. Throws when it cannot. */
  deliver(chunk: C, stillOurs: () => boolean): Promise<boolean>;
  /** One attempt to commit `next` (the offset after the chunk's last) for the chunk's partition. */
  commit(chunk: C, next: string): Promise<void>;
  /** After a failed commit: whether to try again (the lanes check again that it may commit). */
  retryCommit(chunk: C, error: unknown, attempt: number): boolean;
  /** Makes the partition be fetched again from the chunk's first offset. If it throws, the lanes halt. */
  seek(chunk: C): void;
  /** A chunk failed; it will be fetched again. */
  failed(chunk: C, error: unknown): void;
  letGo(chunk: C, why: LetGo): void;
  /** The lanes cannot go on safely: the consumer must crash (a restart resumes from the last commit). */
  halted(error: Error): void;
  /** Held lines and bytes, and writes in flight, after every change. */
  observe?(state: { heldLines: number; heldBytes: number; writes: number }): void;
  /**
   * Joins `next`'s lines onto `queued`'s, the chunk before it in its lane, still waiting for its
   * turn, when both fit in one write; false keeps them apart. Without it each chunk is written
   * alone: while the sink is slow, a lane would then queue up fetches of a few hundred lines and
   * pay a whole request for each. The lanes carry `next`'s last offset, lines and bytes over.
   */
  append?(queued: C, next: C): boolean;
}

interface Lane<C> {
  key: string;
  /** The assignment it was opened in: a rebalance opens new lanes. */
  epoch: number;
  broken: boolean;
  /** Settles when its last chunk is done. */
  tail: Promise<void>;
  /** Its last chunk while that has not started: later lines may still join it (LaneWork.append). */
  waiting?: C;
}

interface Handed<C> {
  chunk: C;
  lane: Lane<C>;
}

export const laneKey = (topic: string, partition: number) => `${topic}:${partition}`;

export class Lanes<C extends Chunk> {
  private epoch = 0;
  private assigned = new Set<string>();
  private readonly lanes = new Map<string, Lane<C>>();
  /** The next offset this member committed per assigned partition: commits never go back. */
  private readonly committed = new Map<string, bigint>();
  /** Per assigned partition, the last acknowledged chunk whose commit was given up. */
  private readonly owed = new Map<string, Handed<C>>();
  private readonly inFlight = new Set<Promise<void>>();
  private heldLines = 0;
  private heldBytes = 0;
  private writes = 0;
  private stopping = false;
  private haltedBy: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly bounds: LaneBounds,
    private readonly work: LaneWork<C>,
  ) {}

  /** The partitions ("topic:partition") assigned to this member from now on. */
  assign(partitions: Iterable<string>): void {
    this.epoch++;
    this.assigned = new Set(partitions);
    for (const key of this.committed.keys()) if (!this.assigned.has(key)) this.committed.delete(key);
    // Kafka fetches every kept partition again from its committed offset: the owed lines come again.
    this.owed.clear();
    this.notify();
  }

  isAssigned(key: string): boolean {
    return this.assigned.has(key);
  }

  get halted(): boolean {
    return this.haltedBy !== undefined;
  }

  /** Whether new chunks are taken at all. */
  accepting(): boolean {
    return !this.stopping && !this.halted;
  }

  /**
   * Whether a chunk of this size can be handed over now: there is room (or nothing is held, so a
   * chunk larger than the bounds still goes, alone) and the partition's lane is not broken.
   */
  hasRoom(topic: string, partition: number, lines: number, bytes: number): boolean {
    const lane = this.lanes.get(laneKey(topic, partition));
    if (lane && lane.epoch === this.epoch && lane.broken) return false;
    if (this.heldLines === 0 && this.heldBytes === 0) return true;
    return this.heldLines + lines <= this.bounds.maxHeldLines && this.heldBytes + bytes <= this.bounds.maxHeldBytes;
  }

  /** Resolves when room may have been made, a lane replaced or the assignment changed, or after `timeoutMs`. */
  changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Queues the chunk behind its partition's earlier chunks (check `hasRoom` first). */
  handOver(chunk: C): void {
    const key = laneKey(chunk.topic, chunk.partition);
    let lane = this.lanes.get(key);
    if (!lane || lane.epoch !== this.epoch) {
      lane = { key, epoch: this.epoch, broken: false, tail: Promise.resolve() };
      this.lanes.set(key, lane);
    }
    this.heldLines += chunk.lines;
    this.heldBytes += chunk.bytes;
    this.report();
    const queued = lane.waiting;
    if (queued && this.work.append?.(queued, chunk)) {
      // Written, committed, let go or replayed as one with the chunk it joined, and let go of
      // (held lines and bytes) as one: the `finally` below reads the joined chunk's totals.
      queued.last = chunk.last;
      queued.lines += chunk.lines;
      queued.bytes += chunk.bytes;
      return;
    }
    lane.waiting = chunk;
    const handed = { chunk, lane };
    const done: Promise<void> = lane.tail
      .then(() => this.run(handed))
      .finally(() => {
        this.heldLines -= chunk.lines;
        this.heldBytes -= chunk.bytes;
        this.inFlight.delete(done);
        this.report();
        this.notify();
      });
    lane.tail = done;
    this.inFlight.add(done);
  }

  /** Runs `write` once fewer than maxConcurrentWrites writes are in flight. */
  async writeSlot<T>(write: () => Promise<T>): Promise<T> {
    while (this.writes >= this.bounds.maxConcurrentWrites) await this.changed(1000);
    this.writes++;
    this.report();
    try {
      return await write();
    } finally {
      this.writes--;
      this.report();
      this.notify();
    }
  }

  /** Tries once more, behind each lane's chunks, every commit that was given up and not yet covered. */
  commitOwed(): void {
    for (const [key, handed] of this.owed) {
      this.owed.delete(key);
      const { lane } = handed;
      if (this.lanes.get(key) !== lane || lane.epoch !== this.epoch) continue;
      const done: Promise<void> = lane.tail.then(() => this.commit(handed)).finally(() => this.inFlight.delete(done));
      lane.tail = done;
      this.inFlight.add(done);
    }
  }

  /** Takes no more chunks and lets queued ones go; resolves once the chunks in flight are done, and owed commits tried. */
  async stop(): Promise<void> {
    this.commitOwed();
    this.stopping = true;
    this.notify();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private stillOurs({ lane }: Handed<C>): boolean {
    return !this.stopping && !this.halted && !lane.broken && lane.epoch === this.epoch && this.assigned.has(lane.key);
  }

  private whyNotOurs({ lane }: Handed<C>): LetGo {
    if (this.halted) return 'halted';
    if (lane.broken) return 'behind a failed chunk';
    if (!this.assigned.has(lane.key)) return 'revoked';
    return lane.epoch !== this.epoch ? 'rebalanced' : 'stopping';
  }

  private async run(handed: Handed<C>): Promise<void> {
    const { chunk, lane } = handed;
    if (lane.waiting === chunk) lane.waiting = undefined;
    if (!this.stillOurs(handed)) return this.work.letGo(chunk, this.whyNotOurs(handed));
    let delivered: boolean;
    try {
      delivered = await this.work.deliver(chunk, () => this.stillOurs(handed));
    } catch (error) {
      // Before anything else can run: the chunks queued behind this one see it and skip.
      lane.broken = true;
      this.notify();
      this.work.failed(chunk, error);
      return this.replay(handed);
    }
    if (!delivered) return this.work.letGo(chunk, this.whyNotOurs(handed));
    await this.commit(handed);
  }

  /** A broken lane's partition is fetched again from its failed chunk, after a pause. */
  private async replay({ chunk, lane }: Handed<C>): Promise<void> {
    const until = Date.now() + this.bounds.replayDelayMs;
    const moot = () => this.stopping || this.halted || lane.epoch !== this.epoch || !this.assigned.has(lane.key);
    while (!moot() && Date.now() < until) await this.changed(until - Date.now());
    // Stopping, halted or rebalanced: nothing was committed past the chunk, and whoever consumes
    // the partition next starts from its committed offset.
    if (!moot()) {
      try {
        this.work.seek(chunk);
      } catch (error) {
        return this.halt(error instanceof Error ? error : new Error(String(error)));
      }
    }
    // The next batch of this partition (fetched after the seek) opens a new lane.
    if (this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key);
    this.notify();
  }

  private mayCommit({ lane }: Handed<C>, next: bigint): boolean {
    return !this.halted && !lane.broken && this.assigned.has(lane.key) && next > (this.committed.get(lane.key) ?? -1n);
  }

  private async commit(handed: Handed<C>): Promise<void> {
    const { chunk, lane } = handed;
    const next = BigInt(chunk.last) + 1n;
    for (let attempt = 1; ; attempt++) {
      if (!this.mayCommit(handed, next)) {
        if (this.halted || !this.assigned.has(lane.key)) this.work.letGo(chunk, this.whyNotOurs(handed));
        return;
      }
      try {
        await this.work.commit(chunk, next.toString());
        if (next > (this.committed.get(lane.key) ?? -1n)) this.committed.set(lane.key, next);
        const owed = this.owed.get(lane.key);
        if (owed && BigInt(owed.chunk.last) < next) this.owed.delete(lane.key);
        return;
      } catch (error) {
        if (!this.work.retryCommit(chunk, error, attempt)) {
          this.owed.set(lane.key, handed);
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** (attempt - 1))));
      }
    }
  }

  private halt(error: Error): void {
    if (this.haltedBy) return;
    this.haltedBy = error;
    this.notify();
    this.work.halted(error);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private report(): void {
    this.work.observe?.({ heldLines: this.heldLines, heldBytes: this.heldBytes, writes: this.writes });
  }
}

/**
 * Splits a fetched batch into chunks of at most `maxLines` messages and `maxBytes` bytes (a single
 * message larger than `maxBytes` makes a chunk of its own): a few very long lines must not make a
 * request larger than the sink accepts.
 */
export function splitIntoChunks<T>(items: T[], bytesOf: (item: T) => number, maxLines: number, maxBytes: number): { items: T[]; bytes: number }[] {
  const chunks: { items: T[]; bytes: number }[] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (current.length > 0 && (current.length >= maxLines || bytes + size > maxBytes)) {
      chunks.push({ items: current, bytes });
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push({ items: current, bytes });
  return chunks;
}
