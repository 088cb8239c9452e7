// A short, fixed-seed chaos run: service instances and Redis shards killed with SIGKILL while
// checkouts run, at fixed points of the workload, each back a second later. Every order has the
// stock and credit to commit, so every checkout must: a kill costs latency, never a checkout.
// Afterwards nothing is lost or created and, by the public log rule (every answer that is not a
// 4xx is a success), no answer contradicts the database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runChaos, writeChaosResult, type ChaosOptions } from "../tools/chaos.js";
import { MARK_RGB, PALETTE, reportFileFor } from "../tools/report.js";
import { drawnReport, launchChromium } from "./browser.js";
import { PROTOCOL } from "./helpers.js";

describe(`chaos (${PROTOCOL})`, () => {
  it("commits every checkout and keeps stock and credit exact while random components are killed", async () => {
    const lines: string[] = [];
    const options: ChaosOptions = { seconds: 12, seed: 20261123, every: 2, down: 1, shards: 3, instances: 2, orders: 400, protocol: PROTOCOL, allCommit: true, log: (l) => lines.push(l) };
    const report = await runChaos(options);
    // A kill every 67 checkouts of 400, each as the 67th is sent and while it is unanswered: the
    // same five kills at the same points, whatever the machine's speed.
    expect(report.kills.map((k) => k.afterCheckouts), lines.join("\n")).toEqual([67, 134, 201, 268, 335]);
    expect(report.kills.every((k) => k.inFlight > 0), lines.join("\n")).toBe(true);
    expect(report.kills.every((k) => k.restarted)).toBe(true);
    expect(report.contradictions).toEqual([]);
    expect(report.ledgerErrors).toEqual([]);
    expect(report.figures).toEqual({ stockLog: 0, stockDb: 0, paymentLog: 0, paymentDb: 0 });
    expect(report.notCommitted, lines.join("\n")).toEqual({});
    expect(report.answers.committed).toBe(400);
    expect(report.ok).toBe(true);
    // The latency of the checkouts sent during the kills is reported (its figures are BENCHMARKS.md's, not a test's).
    expect(report.latency.duringKills.count).toBeGreaterThan(0);
    expect(report.latency.duringKills.max).toBeGreaterThanOrEqual(report.latency.duringKills.p99);

    // The report: every answer is in the timeline, and its charts draw the answers and each kill.
    expect(Object.values(report.timeline.statuses).flat().reduce((a, b) => a + b, 0)).toBe(report.checkouts);
    expect(report.kills.every((k) => k.upAt! > k.at)).toBe(true);
    const out = mkdtempSync(join(tmpdir(), "shardshop-chaos-report-"));
    const browser = await launchChromium();
    try {
      const file = writeChaosResult(report, options, out);
      const drawn = await drawnReport(browser, reportFileFor(file), [...PALETTE, MARK_RGB]);
      expect(drawn.placeholders).toBe(2);
      expect(drawn.drawn).toBe(2);
      expect(drawn.errors).toEqual([]);
      expect(drawn.requests).toHaveLength(1);
      for (const chart of drawn.pixels) {
        // Five kill lines across the plot's height, and the answers' lines.
        expect(chart[MARK_RGB.join(",")]).toBeGreaterThan(5 * 100);
        expect(PALETTE.reduce((n, c) => n + chart[c.join(",")]!, 0)).toBeGreaterThan(100);
      }
    } finally {
      await browser.close();
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
