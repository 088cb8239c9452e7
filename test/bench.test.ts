// `npm run bench -- --vs`: two real deployments loaded in turn, pair by pair, one populated through
// the plain API (as a 2023-variant implementation would be), and each pair's ratio reported. And
// the floor scenario, measured with its own redis-server and internal-call server.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBench, type BenchRecord } from "../tools/bench.js";
import { CHECKOUT_INTERNAL_MEMBERS, CHECKOUT_KEYS_WRITTEN } from "../tools/floor.js";
import { findShopProcesses } from "../tools/procstats.js";
import { PALETTE, reportFileFor } from "../tools/report.js";
import { drawnReport, launchChromium } from "./browser.js";
import { startTestStack, type TestStack } from "./helpers.js";

describe("bench --vs", () => {
  let a: TestStack;
  let b: TestStack;
  const out = mkdtempSync(join(tmpdir(), "shardshop-bench-"));
  beforeAll(async () => {
    [a, b] = await Promise.all([startTestStack(), startTestStack()]);
  });
  afterAll(async () => {
    await Promise.all([a?.teardown(), b?.teardown()]);
    rmSync(out, { recursive: true, force: true });
  });

  it("loads A and B in turn for each pair, swapping who goes first, and reports every pair's ratio", async () => {
    const args = ["--url", a.url, "--vs", b.url, "--populate", "api", "--items", "10", "--users", "10", "--orders", "10", "--fresh", "2000"];
    const { exitCode, record, file } = await runBench([...args, "--duration", "2", "--pairs", "3", "--scenarios", "checkout-distinct,find", "--connections", "4", "--settle", "2", "--out", out]);
    expect(exitCode).toBe(0);
    expect((JSON.parse(readFileSync(file, "utf8")) as BenchRecord).vs).toEqual(record.vs);
    // A B, then B A, then A B, scenario by scenario.
    expect(record.results.map((r) => `${r.run}${r.scenario[0]}${r.target}`)).toEqual(["1cA", "1cB", "1fA", "1fB", "2cB", "2cA", "2fB", "2fA", "3cA", "3cB", "3fA", "3fB"]);
    const pairs = record.vs!.pairs;
    expect(pairs.map((p) => `${p.run} ${p.scenario}`)).toEqual(["1 checkout-distinct", "1 find", "2 checkout-distinct", "2 find", "3 checkout-distinct", "3 find"]);
    for (const p of pairs) {
      expect(p.a.rps).toBeGreaterThan(0);
      expect(p.b.rps).toBeGreaterThan(0);
      expect(p.rpsRatio).toBeCloseTo(p.b.rps / p.a.rps, 10);
    }
    const ratios = pairs.filter((p) => p.scenario === "find").map((p) => p.rpsRatio).sort((x, y) => x - y);
    expect(record.vs!.medians.find!.rpsRatio).toBe(ratios[1]);
    // The API-populated orders were walked and checked out: conservation read them by their ids.
    const checkouts = record.results.filter((r) => r.scenario === "checkout-distinct");
    for (const r of checkouts) expect(r.conservation?.ok, `${r.target} run ${r.run}`).toBe(true);
    expect(checkouts.every((r) => (r.conservation?.paid ?? 0) > 0)).toBe(true);

    // The report beside the JSON: second by second, every answer is in the series.
    for (const r of record.results) expect(r.perSecond!.answers.reduce((a, b) => a + b, 0), `${r.target} ${r.scenario} ${r.run}`).toBe(r.requests);
    const browser = await launchChromium();
    try {
      const drawn = await drawnReport(browser, reportFileFor(file), PALETTE);
      // Five charts a round: answers/s, latency, statuses, CPU and RSS per process.
      expect(drawn.placeholders).toBe(5 * record.results.length);
      expect(drawn.drawn).toBe(drawn.placeholders);
      expect(drawn.pixels).toHaveLength(drawn.placeholders);
      // Each chart drew lines in its series' colours.
      drawn.pixels.forEach((p, i) => expect(Object.values(p).reduce((a, b) => a + b, 0), `chart ${i}`).toBeGreaterThan(100));
      expect(drawn.errors).toEqual([]);
      // Self-contained: the page asked for nothing but itself.
      expect(drawn.requests).toEqual([pathToFileURL(reportFileFor(file)).href]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it("measures the floor after a run's scenarios, from that run's find, and sets the checkout against it", async () => {
    const redisServers = () => findShopProcesses().filter((p) => p.name.startsWith("redis")).map((p) => p.pid).sort();
    const before = redisServers();
    const { exitCode, record } = await runBench(["--url", a.url, "--populate", "api", "--items", "10", "--users", "10", "--orders", "10", "--fresh", "1000",
      "--duration", "2", "--warmup", "0", "--scenarios", "checkout-distinct,floor", "--connections", "4", "--settle", "0", "--floor-batch", "6", "--floor-seconds", "1", "--out", out]);
    expect(exitCode).toBe(0);
    // The find it is built from ran though not asked for.
    expect(record.results.map((r) => r.scenario)).toEqual(["checkout-distinct", "find"]);
    const [floor] = record.floor!;
    const find = record.results.find((r) => r.scenario === "find")!;
    const checkout = record.results.find((r) => r.scenario === "checkout-distinct")!;
    expect(floor!.findUs).toBe(find.cpuUsPerRequest);
    expect(floor!.script.keys).toBe(CHECKOUT_KEYS_WRITTEN);
    expect(floor!.script.calls).toBeGreaterThan(0);
    expect(floor!.script.redisUs + floor!.script.clientUs).toBe(floor!.script.totalUs);
    // Whole batches of the size asked for, every member answered.
    expect(floor!.internalCall.batch).toBe(6);
    expect(floor!.internalCall.members % 6).toBe(0);
    expect(floor!.internalCall.members).toBeGreaterThan(0);
    expect(floor!.floorUs).toBe(Math.round(floor!.findUs + floor!.script.totalUs + CHECKOUT_INTERNAL_MEMBERS * floor!.internalCall.totalUsPerMember));
    expect(floor!.checkoutUs).toBe(checkout.cpuUsPerRequest);
    expect(floor!.checkoutOverFloor).toBeCloseTo(checkout.cpuUsPerRequest / floor!.floorUs, 2);
    // Its Redis and server are gone again, so later rounds do not count them.
    expect(redisServers()).toEqual(before);
  }, 120_000);
});

describe("bench --local", () => {
  it("counts the Redis commands each service's shards make per answer", async () => {
    const out = mkdtempSync(join(tmpdir(), "shardshop-bench-"));
    const connections = 4;
    try {
      const { exitCode, record } = await runBench(["--local", "--items", "10", "--users", "10", "--orders", "10", "--fresh", "2000", "--duration", "2", "--warmup", "0",
        "--scenarios", "checkout-distinct", "--connections", String(connections), "--settle", "0", "--out", out]);
      expect(exitCode).toBe(0);
      const [checkout] = record.results;
      expect(checkout!.non2xx).toEqual({});
      const { order, stock, payment } = checkout!.redisCommands!;
      // Each answered checkout charged its user once (one DECRBY) before it was answered; at most
      // one request per connection was still in flight when the round ended.
      const decrby = Math.round(payment.byCommand.decrby! * checkout!.requests);
      expect(decrby).toBeGreaterThanOrEqual(checkout!.requests);
      expect(decrby).toBeLessThanOrEqual(checkout!.requests + connections);
      // And took its order's lines (one or two: two picks of 10 items may be one line) with one
      // HINCRBY each, or in 2PC three: the prepare's stock and held, the commit's held.
      const perLine = process.env.TX_PROTOCOL === "2pc" ? 3 : 1;
      const hincrby = Math.round(stock.byCommand.hincrby! * checkout!.requests);
      expect(hincrby).toBeGreaterThanOrEqual(checkout!.requests);
      expect(hincrby).toBeLessThanOrEqual(perLine * 2 * (checkout!.requests + connections));
      // Every state change is a script: the order's begin and commit at least, each participant's try.
      expect(order.byCommand.evalsha).toBeGreaterThanOrEqual(2);
      for (const s of [stock, payment]) expect(s.byCommand.evalsha).toBeGreaterThanOrEqual(1);
      // The counting's own INFO calls are not the shop's.
      expect(order.byCommand.info).toBeUndefined();
      expect(order.total).toBeCloseTo(Object.values(order.byCommand).reduce((a, b) => a + b, 0), 10);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
