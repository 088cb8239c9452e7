// The engine is an artifact others can use: `npm pack` its workspace, install the tarball into an
// empty project outside this repository (with only the dependencies the package declares), and
// run its transfer example there, on two real redis-server processes, under both protocols:
// transfers that commit, abort and are refused, then a driver killed mid-transaction (SIGKILL at a
// fault point) and the recovery sweep of a fresh process finishing what it left.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisComponent, type Component } from "../local/stack.js";
import { TX_PROTOCOLS } from "@shardshop/orchestrator";

let project: string;
let servers: Component[];

/** Runs the installed example; its printed JSON lines, its exit status and the signal that ended it. */
function example(protocol: string, ...command: string[]) {
  const urls = servers.map((s) => `redis://127.0.0.1:${s.port}`);
  const run = spawnSync(process.execPath, [join(project, "node_modules/@shardshop/orchestrator/examples/transfer/run.mjs"), ...urls, protocol, ...command], {
    cwd: project,
    encoding: "utf8",
    timeout: 60_000,
  });
  const lines = run.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { lines, status: run.status, signal: run.signal, stderr: run.stderr };
}

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), "engine-user-"));
  const packed = spawnSync("npm", ["pack", "--workspace", "@shardshop/orchestrator", "--pack-destination", project, "--json"], { encoding: "utf8" });
  expect(packed.status, packed.stderr).toBe(0);
  const { filename } = (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!;
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "engine-user", private: true, type: "module" }));
  const installed = spawnSync("npm", ["install", join(project, filename), "--no-audit", "--no-fund", "--prefer-offline"], { cwd: project, encoding: "utf8" });
  expect(installed.status, installed.stderr).toBe(0);
  servers = [await redisComponent(project, "bank-a", "shards"), await redisComponent(project, "bank-b", "shards")];
  await Promise.all(servers.map((s) => s.start()));
}, 180_000);

afterAll(async () => {
  await Promise.all((servers ?? []).map((s) => s.stop()));
  rmSync(project, { recursive: true, force: true });
});

describe("the packed engine, installed outside the repository", () => {
  it("holds the built package and its example, and installs only what it declares", () => {
    const installed = readdirSync(join(project, "node_modules"));
    expect(installed).toEqual(expect.arrayContaining(["@shardshop", "ioredis", "cockatiel", "prom-client", "zod"]));
    // Nothing of the shop came with it.
    for (const shop of ["hono", "@hono", "undici", "pino"]) expect(installed).not.toContain(shop);
    expect(readdirSync(join(project, "node_modules/@shardshop/orchestrator/dist/redis/lua/includes"))).toEqual(expect.arrayContaining(["txRecord.lua", "txMarker.lua"]));
  });

  describe.each(TX_PROTOCOLS)("runs the transfer example under %s", (protocol) => {
    it("commits, aborts for want of funds, refuses a transfer made, and recovers one whose driver was killed", () => {
      for (const s of servers) spawnSync("redis-cli", ["-p", String(s.port), "flushall"]);
      expect(example(protocol, "open").lines).toEqual([{ alice: { balance: 100, held: 0 }, bob: { balance: 0, held: 0 } }]);
      expect(example(protocol, "transfer", "t1", "30").lines).toEqual([{ transfer: "t1", outcome: { kind: "committed" } }]);
      expect(example(protocol, "transfer", "t2", "300").lines).toEqual([{ transfer: "t2", outcome: { kind: "aborted", reason: "insufficient_funds" } }]);
      expect(example(protocol, "transfer", "t1", "30").lines).toEqual([{ transfer: "t1", outcome: { kind: "refused", reason: "made" } }]);
      expect(example(protocol, "balances").lines).toEqual([{ alice: { balance: 70, held: 0 }, bob: { balance: 30, held: 0 } }]);

      // Killed after the source's try answered: the transfer is begun and undecided.
      const killed = example(protocol, "die", "t3", "20", "after-source");
      expect(killed.signal, killed.stderr).toBe("SIGKILL");
      expect(killed.lines).toEqual([]);
      const recovered = example(protocol, "recover");
      expect(recovered.lines, recovered.stderr).toEqual([{ recovered: 1 }]);
      // Finished one way or the other, and either way no money was made or lost, and none is held.
      const [after] = example(protocol, "balances").lines as Array<{ alice: { balance: number; held: number }; bob: { balance: number; held: number } }>;
      expect(after!.alice.balance + after!.bob.balance).toBe(100);
      expect([after!.alice.held, after!.bob.held]).toEqual([0, 0]);
      expect([50, 70]).toContain(after!.alice.balance);
      // Asking for it again answers how it ended, and changes nothing.
      const again = example(protocol, "transfer", "t3", "20").lines[0]!;
      expect(again).toEqual({ transfer: "t3", outcome: after!.alice.balance === 50 ? { kind: "refused", reason: "made" } : { kind: "aborted", reason: expect.any(String) } });
      expect(example(protocol, "balances").lines).toEqual([after]);
    });
  });
});
