// The lanes' guarantees, with Kafka left out: the runner supplies write, commit and seek, and
// here they are plain functions that record what happened.
import { describe, expect, it } from 'vitest';
import { laneKey, Lanes, splitIntoChunks, type Chunk, type LaneBounds, type LetGo } from '../../src/bridge/lanes.js';

const TOPIC = 'cdn-metrics';
const BOUNDS: LaneBounds = { maxHeldLines: 1000, maxHeldBytes: 100_000, maxConcurrentWrites: 4, replayDelayMs: 20 };

function chunk(partition: number, first: number, lines: number, bytesPerLine = 10): Chunk {
  return { topic: TOPIC, partition, first: String(first), last: String(first + lines - 1), lines, bytes: lines * bytesPerLine };
}

/** A sink whose writes the test settles one by one, and a record of every commit, seek and let-go. */
function harness(bounds: LaneBounds = BOUNDS, { seekThrows = false, failingCommits = 0 } = {}) {
  const writes: { chunk: Chunk; settle: (ok: boolean | Error) => void }[] = [];
  const commits: string[] = [];
  const seeks: string[] = [];
  const letGo: { first: string; why: LetGo }[] = [];
  const halts: Error[] = [];
  const seen = { heldLines: 0, heldBytes: 0, writes: 0 };
  let written = 0;
  const lanes: Lanes<Chunk> = new Lanes<Chunk>(bounds, {
    deliver: (c) =>
      lanes.writeSlot(
        () =>
          new Promise<boolean>((resolve, reject) => {
            writes.push({ chunk: c, settle: (ok) => (ok instanceof Error ? reject(ok) : resolve(ok)) });
          }),
      ),
    commit: async (c, next) => {
      if (failingCommits-- > 0) throw new Error('The coordinator is not available');
      commits.push(`${c.partition}@${next}`);
    },
    retryCommit: () => false,
    seek: (c) => {
      if (seekThrows) throw new Error('Consumer group was not initialized');
      seeks.push(`${c.partition}@${c.first}`);
    },
    failed: () => undefined,
    letGo: (c, why) => letGo.push({ first: c.first, why }),
    halted: (error) => halts.push(error),
    observe: (state) => {
      seen.heldLines = Math.max(seen.heldLines, state.heldLines);
      seen.heldBytes = Math.max(seen.heldBytes, state.heldBytes);
      seen.writes = Math.max(seen.writes, state.writes);
    },
  });
  /** Settles the oldest unsettled write, once it has been asked for. */
  const settleNext = async (ok: boolean | Error) => {
    await until(() => writes.length > written);
    writes[written++]!.settle(ok);
  };
  return { lanes, writes, commits, seeks, letGo, halts, seen, settleNext };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 1));
}

describe('lanes', () => {
  it('write a partition in order and commit the end of each acknowledged chunk', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0)]);
    for (const first of [0, 10, 20]) h.lanes.handOver(chunk(0, first, 10));
    for (let i = 0; i < 3; i++) await h.settleNext(true);
    await h.lanes.stop();
    expect(h.writes.map((w) => w.chunk.first)).toEqual(['0', '10', '20']);
    expect(h.commits).toEqual(['0@10', '0@20', '0@30']);
  });

  it('never commit past a failed chunk, and halt when seeking back to it throws', async () => {
    const h = harness(BOUNDS, { seekThrows: true });
    h.lanes.assign([laneKey(TOPIC, 0), laneKey(TOPIC, 1)]);
    for (const first of [0, 10, 20, 30]) h.lanes.handOver(chunk(0, first, 10));
    await h.settleNext(true);
    await h.settleNext(new Error('the dead-letter topic refused the batch'));
    await until(() => h.halts.length > 0);
    // Another partition's chunk written after the halt is not committed either: the restart
    // resumes every partition from its last commit.
    h.lanes.handOver(chunk(1, 0, 10));
    await h.lanes.stop();
    expect(h.halts.map((e) => e.message)).toEqual(['Consumer group was not initialized']);
    expect(h.commits).toEqual(['0@10']);
    expect(h.writes.map((w) => `${w.chunk.partition}@${w.chunk.first}`)).toEqual(['0@0', '0@10']);
    expect(h.letGo).toEqual([
      { first: '20', why: 'halted' },
      { first: '30', why: 'halted' },
      { first: '0', why: 'halted' },
    ]);
    expect(h.lanes.accepting()).toBe(false);
  });

  it('seek back to a failed chunk, take nothing for its partition until then, and go on from there', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0)]);
    for (const first of [0, 10]) h.lanes.handOver(chunk(0, first, 10));
    await h.settleNext(new Error('MESSAGE_TOO_LARGE'));
    await until(() => !h.lanes.hasRoom(TOPIC, 0, 10, 100));
    await until(() => h.seeks.length > 0);
    expect(h.lanes.hasRoom(TOPIC, 0, 10, 100)).toBe(true);
    // What kafkajs fetches after the seek: the failed chunk again.
    for (const first of [0, 10]) h.lanes.handOver(chunk(0, first, 10));
    await h.settleNext(true);
    await h.settleNext(true);
    await h.lanes.stop();
    expect(h.seeks).toEqual(['0@0']);
    expect(h.commits).toEqual(['0@10', '0@20']);
    expect(h.halts).toEqual([]);
  });

  it('stop committing a partition revoked while its chunk is written, and let its queued chunks go', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0), laneKey(TOPIC, 1)]);
    h.lanes.handOver(chunk(0, 0, 10));
    h.lanes.handOver(chunk(0, 10, 10));
    h.lanes.handOver(chunk(1, 0, 10));
    await until(() => h.writes.length === 2);
    h.lanes.assign([laneKey(TOPIC, 1)]); // the rebalance: partition 0 went to another member
    await Promise.all(h.writes.map((w) => w.settle(true)));
    await h.lanes.stop();
    expect(h.commits).toEqual(['1@10']);
    expect(h.letGo).toEqual([
      { first: '0', why: 'revoked' },
      { first: '10', why: 'revoked' },
    ]);
  });

  it('after a rebalance that keeps a partition, let its queued chunks go (they are fetched again) and never commit backwards', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0)]);
    h.lanes.handOver(chunk(0, 0, 10));
    h.lanes.handOver(chunk(0, 10, 10));
    await until(() => h.writes.length === 1);
    h.lanes.assign([laneKey(TOPIC, 0)]);
    // kafkajs fetches again from the committed offset: 0.
    h.lanes.handOver(chunk(0, 0, 5));
    await h.settleNext(true);
    await h.settleNext(true);
    await h.lanes.stop();
    expect(h.letGo).toEqual([{ first: '10', why: 'rebalanced' }]);
    expect(h.commits).toEqual(['0@10']);
  });

  it('hold at most maxHeldLines lines and maxHeldBytes bytes, and write at most maxConcurrentWrites chunks at once', async () => {
    const bounds = { maxHeldLines: 50, maxHeldBytes: 400, maxConcurrentWrites: 2, replayDelayMs: 20 };
    const h = harness(bounds);
    const partitions = [0, 1, 2, 3];
    h.lanes.assign(partitions.map((p) => laneKey(TOPIC, p)));
    const next = new Map(partitions.map((p) => [p, 0]));
    let handed = 0;
    const feeding = (async () => {
      while (handed < 40) {
        const partition = partitions[handed % partitions.length]!;
        const lines = 5 + (handed % 7);
        const bytesPerLine = handed % 3 === 0 ? 30 : 5;
        while (!h.lanes.hasRoom(TOPIC, partition, lines, lines * bytesPerLine)) await h.lanes.changed(1000);
        h.lanes.handOver(chunk(partition, next.get(partition)!, lines, bytesPerLine));
        next.set(partition, next.get(partition)! + lines);
        handed++;
      }
    })();
    for (let i = 0; i < 40; i++) await h.settleNext(true);
    await feeding;
    await h.lanes.stop();
    expect(h.commits).toHaveLength(40);
    expect(h.seen.heldLines).toBeLessThanOrEqual(bounds.maxHeldLines);
    expect(h.seen.heldBytes).toBeLessThanOrEqual(bounds.maxHeldBytes);
    expect(h.seen.writes).toBe(bounds.maxConcurrentWrites);
  });

  it('commit again, when asked, an acknowledged chunk whose commit was given up on a partition that stays quiet', async () => {
    const h = harness(BOUNDS, { failingCommits: 1 });
    h.lanes.assign([laneKey(TOPIC, 0), laneKey(TOPIC, 1)]);
    h.lanes.handOver(chunk(0, 0, 10));
    h.lanes.handOver(chunk(1, 0, 10));
    await h.settleNext(true);
    await h.settleNext(true);
    await until(() => h.commits.length === 1);
    expect(h.commits).toEqual(['1@10']);
    h.lanes.commitOwed();
    await until(() => h.commits.length === 2);
    // Owed once, committed once: asking again commits nothing more.
    h.lanes.commitOwed();
    await h.lanes.stop();
    expect(h.commits).toEqual(['1@10', '0@10']);
  });

  it('drop an owed commit that a later chunk covered, or that a rebalance made moot (the partition is fetched again)', async () => {
    const h = harness(BOUNDS, { failingCommits: 2 });
    h.lanes.assign([laneKey(TOPIC, 0), laneKey(TOPIC, 1)]);
    h.lanes.handOver(chunk(0, 0, 10));
    h.lanes.handOver(chunk(1, 0, 10));
    await h.settleNext(true);
    await h.settleNext(true);
    h.lanes.handOver(chunk(0, 10, 10));
    await h.settleNext(true);
    await until(() => h.commits.length === 1);
    h.lanes.assign([laneKey(TOPIC, 0), laneKey(TOPIC, 1)]);
    h.lanes.commitOwed();
    await h.lanes.stop();
    expect(h.commits).toEqual(['0@20']);
  });

  it('take a chunk larger than the bounds only when nothing else is held', () => {
    const h = harness({ ...BOUNDS, maxHeldBytes: 100 });
    h.lanes.assign([laneKey(TOPIC, 0)]);
    expect(h.lanes.hasRoom(TOPIC, 0, 1, 5000)).toBe(true);
    h.lanes.handOver(chunk(0, 0, 1, 5000));
    expect(h.lanes.hasRoom(TOPIC, 0, 1, 10)).toBe(false);
  });
});

describe('splitting a batch into chunks', () => {
  const sizes = (lines: number[]) => lines.map((bytes, i) => ({ i, bytes }));

  it('cuts at maxLines', () => {
    const chunks = splitIntoChunks(sizes(Array(12).fill(10)), (m) => m.bytes, 5, 1_000_000);
    expect(chunks.map((c) => c.items.length)).toEqual([5, 5, 2]);
  });

  it('cuts at maxBytes, so a few very long lines do not make a request larger than the sink takes', () => {
    const lines = [100, 100, 4000, 100, 3000, 3000, 100, 100];
    const chunks = splitIntoChunks(sizes(lines), (m) => m.bytes, 5000, 5000);
    expect(chunks.map((c) => c.items.map((m) => m.i))).toEqual([[0, 1, 2, 3], [4], [5, 6, 7]]);
    expect(chunks.map((c) => c.bytes)).toEqual([4300, 3000, 3200]);
    for (const c of chunks) expect(c.bytes).toBeLessThanOrEqual(5000);
  });

  it('writes a line longer than maxBytes alone', () => {
    const chunks = splitIntoChunks(sizes([10, 9000, 10]), (m) => m.bytes, 5000, 5000);
    expect(chunks.map((c) => c.items.map((m) => m.i))).toEqual([[0], [1], [2]]);
  });
});
