// Our version of the public consistency test, both variants, against the local stack.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConsistency } from "../tools/consistency.js";
import { startTestStack, type TestStack } from "./helpers.js";

describe.each([1, 3])("consistency test on %i shard(s) per service", (shards) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ shards, instances: shards > 1 ? 2 : 1 });
  });
  afterAll(() => stack?.teardown());

  it("basic: all four figures are 0", async () => {
    const report = await runConsistency({ url: stack.url, seed: 7 });
    expect(report.figures).toEqual({ stockLog: 0, stockDb: 0, paymentLog: 0, paymentDb: 0 });
    expect(report.succeeded).toBe(100);
    expect(report.statuses).toEqual({ 200: 100, 400: 900 });
  });

  it("strict: figures are 0 and every paid order matches the ledger", async () => {
    const report = await runConsistency({ url: stack.url, seed: 11, strict: true });
    expect(report.ledgerErrors).toEqual([]);
    expect(report.figures).toEqual({ stockLog: 0, stockDb: 0, paymentLog: 0, paymentDb: 0 });
    expect(report.succeeded).toBeGreaterThan(0);
    expect(report.failed).toBeGreaterThan(0);
  });
});
