// Where the CPU goes: per-process CPU seconds from /proc (utime + stime of a process and all its
// descendants, threads included), the whole machine's busy time, and resident memory.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** The process and all its descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const f = statFields(pid);
    if (!f) continue;
    const ppid = Number(f[1]);
    (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(pid);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Pids whose command line contains every one of `parts`. */
export function findProcesses(...parts: string[]): number[] {
  return allPids().filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return parts.every((p) => cmd.includes(p));
    } catch {
      return false;
    }
  });
}

/** CPU seconds used so far by these processes (own time, threads included; not reaped children). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime
  }
  return ticks / TICKS;
}

/** Busy and total CPU seconds of the whole machine (all cores) so far. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
  return { busy: (total - idle) / TICKS, total: total / TICKS };
}

/** VmRSS in bytes, or undefined once the process is gone. */

export interface CpuGroup {
  name: string;
  pids: () => number[];
}

/** A snapshot of CPU seconds per named group, the bench process itself and the machine. */
export interface CpuSnapshot {
  at: number;
  groups: Record<string, number>;
  machine: { busy: number; total: number };
}

export function cpuSnapshot(groups: CpuGroup[]): CpuSnapshot {
  const out: Record<string, number> = {};
  for (const g of groups) out[g.name] = cpuSeconds(g.pids());
  const self = process.cpuUsage();
  out.bench = (self.user + self.system) / 1e6;
  return { at: performance.now(), groups: out, machine: machineCpu() };
}

/** CPU used between two snapshots, as a share of one core (1.0 = one core busy all the time). */
export function cpuShares(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const wall = (b.at - a.at) / 1000;
  const shares: Record<string, number> = {};
  let ours = 0;
  for (const name of Object.keys(b.groups)) {
    const used = (b.groups[name] ?? 0) - (a.groups[name] ?? 0);
    shares[name] = used / wall;
    ours += used;
  }
  const busy = b.machine.busy - a.machine.busy;
  shares.others = Math.max(0, (busy - ours) / wall);
  shares.machine = busy / wall;
  return shares;
}
