// CPU and memory of the system's processes while a benchmark runs, read from /proc (Linux only;
// elsewhere the report simply has no process figures).
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessFigures {
  name: string;
  pid: number;
  /** Share of one core over the sampled window, in percent. */
  cpuPercent: number;
  maxRssMb: number;
}

const TICKS_PER_SECOND = 100;

/**
 * User and system time of the process and of its children it has waited for: a Redis's AOF
 * rewrites run in forked children, and their CPU is the shop's too (it shows here once the child
 * is reaped, when its rewrite is done).
 */
function cpuTicks(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  } catch {
    return null;
  }
}

/** The CPU seconds a process (with its reaped children) has used so far; 0 once it cannot be read. */
export const cpuSecondsOf = (pid: number): number => (cpuTicks(pid) ?? 0) / TICKS_PER_SECOND;

/** CPU seconds between two readings of `cpuTicks`; 0 when either could not be read. */
const cpuSecondsBetween = (from: number | null, to: number | null): number => (from !== null && to !== null ? (to - from) / TICKS_PER_SECOND : 0);

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The shop's processes on this machine, named by what they run (works for `npm start` and Docker). */
export function findShopProcesses(): Array<{ name: string; pid: number }> {
  const found: Array<{ name: string; pid: number }> = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  for (const entry of entries) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      continue;
    }
    const service = /(?:^|\/)(order|stock|payment)\/main\.js\b/.exec(cmd);
    if (service) found.push({ name: service[1]!, pid: Number(entry) });
    else if (/^redis-server\b/.test(cmd)) found.push({ name: `redis ${cmd.split(" ")[1] ?? ""}`.trim(), pid: Number(entry) });
    else if (/^nginx: (master|worker)/.test(cmd)) found.push({ name: cmd.startsWith("nginx: master") ? "nginx master" : "nginx worker", pid: Number(entry) });
  }
  return found;
}

/** Each process's CPU share (percent of one core, over the interval before each sample) and RSS, sample by sample. */
export interface ProcessTimeline {
  seconds: number[];
  processes: Array<{ name: string; pid: number; cpuPercent: number[]; rssMb: number[] }>;
}

/**
 * Samples the given processes every `everyMs` until `stop()`; `stop` returns each one's CPU share
 * and peak RSS over the whole window, and the samples as a timeline.
 */
export function sampleProcesses(processes: Array<{ name: string; pid: number }>, everyMs = 500) {
  const start = processes.map((p) => cpuTicks(p.pid));
  const peak = processes.map((p) => rssMb(p.pid));
  const startedAt = Date.now();
  const timeline: ProcessTimeline = { seconds: [], processes: processes.map((p) => ({ ...p, cpuPercent: [], rssMb: [] })) };
  let last = { at: startedAt, ticks: [...start] };
  const sample = () => {
    const at = Date.now();
    const ticks = processes.map((p) => cpuTicks(p.pid));
    timeline.seconds.push(Math.round((at - startedAt) / 100) / 10);
    processes.forEach((p, i) => {
      const rss = rssMb(p.pid);
      peak[i] = Math.max(peak[i]!, rss);
      const used = cpuSecondsBetween(last.ticks[i] ?? null, ticks[i] ?? null);
      timeline.processes[i]!.cpuPercent.push(Math.round((100 * used) / Math.max(0.001, (at - last.at) / 1000)));
      timeline.processes[i]!.rssMb.push(Math.round(rss));
    });
    last = { at, ticks };
  };
  const timer = setInterval(sample, everyMs);
  return {
    stop(): { figures: ProcessFigures[]; timeline: ProcessTimeline } {
      clearInterval(timer);
      const seconds = (Date.now() - startedAt) / 1000;
      const figures = processes.map((p, i) => {
        const used = cpuSecondsBetween(start[i] ?? null, cpuTicks(p.pid));
        return { name: p.name, pid: p.pid, cpuPercent: Math.round((100 * used) / seconds), maxRssMb: Math.round(Math.max(peak[i]!, rssMb(p.pid))) };
      });
      return { figures, timeline };
    },
  };
}

/** The machine's busy and total CPU ticks so far, over all cores (/proc/stat). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
    const n = fields.map(Number);
    const idle = n[3]! + n[4]!; // idle and iowait
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * Waits until the machine is quiet: less than `busyShare` of its CPU used over half a second, or
 * `maxMs` passed. Work a round leaves behind (a Redis's AOF rewrite, keys expiring) would
 * otherwise land in the next round, and so always in the second of a pair. Returns the ms waited.
 */
export async function untilQuiet(busyShare: number, maxMs: number): Promise<number> {
  const start = Date.now();
  let before = machineTicks();
  if (!before || maxMs <= 0) return 0;
  while (Date.now() - start < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = machineTicks()!;
    const share = (now.busy - before.busy) / Math.max(1, now.total - before.total);
    before = now;
    if (share < busyShare) break;
  }
  return Date.now() - start;
}
