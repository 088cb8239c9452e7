// A short, fixed-seed chaos run: service instances and Redis shards killed with SIGKILL while
// checkouts run, at fixed points of the workload; afterwards nothing is lost or created and, by the
// public log rule (every answer that is not a 4xx is a success), no answer contradicts the database.
import { describe, expect, it } from "vitest";
import { runChaos } from "../tools/chaos.js";
import { PROTOCOL } from "./helpers.js";

describe(`chaos (${PROTOCOL})`, () => {
  it("keeps stock and credit exact while random components are killed", async () => {
    const lines: string[] = [];
    const report = await runChaos({ seconds: 12, seed: 20261123, every: 2, down: 1, shards: 3, instances: 2, orders: 400, protocol: PROTOCOL, log: (l) => lines.push(l) });
    // A kill every 67 checkouts of 400: the same five kills, whatever the machine's speed...
    expect(report.kills, lines.join("\n")).toHaveLength(5);
    report.kills.forEach((k, i) => expect(k.afterCheckouts).toBeGreaterThanOrEqual(67 * (i + 1)));
    expect(report.kills.every((k) => k.restarted)).toBe(true);
    // ...with checkouts in flight when they struck.
    expect(report.kills.filter((k) => k.inFlight > 0).length, lines.join("\n")).toBeGreaterThanOrEqual(3);
    expect(report.contradictions).toEqual([]);
    expect(report.ledgerErrors).toEqual([]);
    expect(report.figures).toEqual({ stockLog: 0, stockDb: 0, paymentLog: 0, paymentDb: 0 });
    expect(report.answers.committed).toBeGreaterThan(0);
    expect(report.ok).toBe(true);
  }, 180_000);
});
