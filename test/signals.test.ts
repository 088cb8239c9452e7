// A tool that starts its own local stack (here `npm run residue`) and is sent SIGINT alone, as a
// script or a supervisor sends it (not a terminal's Ctrl-C, which reaches the whole process
// group): it stops the stack, removes its data and exits 130, leaving no process behind.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";

/** Live (not zombie) processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === pid && state !== "Z") found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");

describe("a tool with a local stack, sent SIGINT alone", () => {
  it("stops its stack, removes its data and exits 130", async () => {
    const tool = spawn(process.execPath, ["dist/tools/residue.js", "--checkouts", "200000", "--after", "10"], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => tool.once("exit", (code) => resolve(code)));
    // Up: three redis-servers and three services, all its children.
    let stack: number[] = [];
    for (let i = 0; i < 600 && stack.length < 6; i++) {
      await sleep(100);
      stack = childrenOf(tool.pid!);
    }
    expect(stack.length).toBeGreaterThanOrEqual(6);
    const redis = stack.find((pid) => cmdline(pid).startsWith("redis-server"))!;
    const dataDir = dirname(readlinkSync(`/proc/${redis}/cwd`));
    expect(existsSync(dataDir)).toBe(true);

    try {
      process.kill(tool.pid!, "SIGINT");
      expect(await exited).toBe(130);
      expect(stack.filter(alive)).toEqual([]);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      // What a failure would leave behind.
      for (const pid of stack.filter(alive)) process.kill(pid, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
