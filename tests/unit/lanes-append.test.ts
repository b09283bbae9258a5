// Chunks joined while they wait for their lane (LaneWork.append): one write for lines that queued
// up behind a slow one, with the lanes' guarantees unchanged — in order, committed only to the end
// of what the sink acknowledged, a failure replayed from the first line not committed.
import { describe, expect, it } from 'vitest';
import { laneKey, Lanes, type Chunk, type LetGo } from '../../src/bridge/lanes.js';

const TOPIC = 'cdn-logs';
const MAX_LINES = 25;

interface Lines extends Chunk {
  /** The offsets it carries, as the runner's chunks carry their records. */
  offsets: number[];
}

function chunk(partition: number, first: number, lines: number): Lines {
  const offsets = Array.from({ length: lines }, (_, i) => first + i);
  return { topic: TOPIC, partition, first: String(first), last: String(first + lines - 1), lines, bytes: lines * 10, offsets };
}

/** Lanes whose chunks join up to MAX_LINES lines; the test settles each write. */
function harness() {
  const writes: { offsets: number[]; settle: (ok: boolean | Error) => void }[] = [];
  const commits: string[] = [];
  const seeks: string[] = [];
  const letGo: { first: string; why: LetGo }[] = [];
  const held: number[] = [];
  const lanes: Lanes<Lines> = new Lanes<Lines>(
    { maxHeldLines: 1000, maxHeldBytes: 100_000, maxConcurrentWrites: 4, replayDelayMs: 20 },
    {
      deliver: (c) =>
        lanes.writeSlot(() => new Promise<boolean>((resolve, reject) => writes.push({ offsets: [...c.offsets], settle: (ok) => (ok instanceof Error ? reject(ok) : resolve(ok)) }))),
      commit: async (c, next) => {
        commits.push(`${c.partition}@${next}`);
      },
      retryCommit: () => false,
      seek: (c) => seeks.push(`${c.partition}@${c.first}`),
      failed: () => undefined,
      letGo: (c, why) => letGo.push({ first: c.first, why }),
      halted: () => undefined,
      observe: ({ heldLines }) => held.push(heldLines),
      append(queued, next) {
        if (queued.lines + next.lines > MAX_LINES) return false;
        queued.offsets = queued.offsets.concat(next.offsets);
        return true;
      },
    },
  );
  let settled = 0;
  const settleNext = async (ok: boolean | Error) => {
    await until(() => writes.length > settled);
    writes[settled++]!.settle(ok);
  };
  return { lanes, writes, commits, seeks, letGo, held, settleNext };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 1));
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('lanes joining waiting chunks', () => {
  it('write the chunks that queued behind a write as one, up to the limit, in order, and commit the end of each write', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0)]);
    h.lanes.handOver(chunk(0, 0, 10));
    await until(() => h.writes.length === 1);
    for (const first of [10, 20, 30, 40]) h.lanes.handOver(chunk(0, first, 10));
    await h.settleNext(true);
    await h.settleNext(true);
    await h.settleNext(true);
    await h.lanes.stop();
    // The first was being written; 10-29 joined (a third would pass 25 lines); 30-49 likewise.
    expect(h.writes.map((w) => w.offsets)).toEqual([range(0, 10), range(10, 30), range(30, 50)]);
    expect(h.commits).toEqual(['0@10', '0@30', '0@50']);
    expect(h.held.at(-1)).toBe(0);
  });

  it('never join a chunk onto one already being written, nor across partitions', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0), laneKey(TOPIC, 1)]);
    h.lanes.handOver(chunk(0, 0, 5));
    await until(() => h.writes.length === 1);
    h.lanes.handOver(chunk(0, 5, 5));
    h.lanes.handOver(chunk(1, 0, 5));
    await until(() => h.writes.length === 2);
    for (let i = 0; i < 3; i++) await h.settleNext(true);
    await h.lanes.stop();
    expect(h.writes.map((w) => w.offsets)).toEqual([range(0, 5), range(0, 5), range(5, 10)]);
    expect(h.commits.sort()).toEqual(['0@10', '0@5', '1@5']);
  });

  it('replay a joined chunk that failed from its first line, committing nothing of it', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0)]);
    h.lanes.handOver(chunk(0, 0, 10));
    await until(() => h.writes.length === 1);
    for (const first of [10, 20]) h.lanes.handOver(chunk(0, first, 10));
    await h.settleNext(true);
    await h.settleNext(new Error('the dead-letter topic refused the batch'));
    await until(() => h.seeks.length > 0);
    // What kafkajs fetches after the seek: the failed lines again.
    h.lanes.handOver(chunk(0, 10, 20));
    await h.settleNext(true);
    await h.lanes.stop();
    expect(h.seeks).toEqual(['0@10']);
    expect(h.commits).toEqual(['0@10', '0@30']);
  });

  it('let a joined chunk go as one after a rebalance', async () => {
    const h = harness();
    h.lanes.assign([laneKey(TOPIC, 0)]);
    h.lanes.handOver(chunk(0, 0, 10));
    await until(() => h.writes.length === 1);
    for (const first of [10, 20]) h.lanes.handOver(chunk(0, first, 10));
    h.lanes.assign([]);
    await h.settleNext(true);
    await h.lanes.stop();
    expect(h.commits).toEqual([]);
    expect(h.letGo).toEqual([
      { first: '0', why: 'revoked' },
      { first: '10', why: 'revoked' },
    ]);
    expect(h.held.at(-1)).toBe(0);
  });
});
