import { describe, expect, it } from "vitest";
import { withRetries, type RetryPolicy } from "./retry.js";

const answer: RetryPolicy = { name: "answer", attempts: Number.POSITIVE_INFINITY, deadlineMs: 60_000, backoffMs: 1, maxBackoffMs: 8, attemptTimeoutMs: 50 };

/** A call that fails `failures` times, recording each attempt's timeout and when it came. */
function flaky(failures: number) {
  const attempts: Array<{ timeoutMs: number | undefined; at: number }> = [];
  const call = async (_: number, timeoutMs: number | undefined) => {
    attempts.push({ timeoutMs, at: performance.now() });
    if (attempts.length <= failures) throw new Error("down");
    return "ok";
  };
  return { attempts, call };
}

describe("withRetries", () => {
  it("retries until the call succeeds, backoff capped, each retry's timeout capped by the policy", async () => {
    const { attempts, call } = flaky(12);
    expect(await withRetries(answer, call, () => true)).toBe("ok");
    expect(attempts).toHaveLength(13);
    expect(attempts[0]!.timeoutMs).toBeUndefined();
    expect(attempts.slice(1).every((a) => a.timeoutMs === 50)).toBe(true);
    // 1+2+4+8*9 ms of backoff in all: far less than uncapped doubling (2^12 ms), whatever the machine's speed.
    expect(attempts.at(-1)!.at - attempts[0]!.at).toBeLessThan(2000);
  });

  it("gives up at the caller's deadline, which replaces the policy's, with the last failure", async () => {
    const { attempts, call } = flaky(1_000_000);
    const until = Date.now() + 100;
    await expect(withRetries(answer, call, () => true, { until })).rejects.toThrow("down");
    expect(Date.now()).toBeGreaterThanOrEqual(until - 10);
    expect(attempts.length).toBeGreaterThan(2);
  });

  it("stops at once on a failure that is not retryable, and after the policy's attempts", async () => {
    const first = flaky(5);
    await expect(withRetries(answer, first.call, () => false)).rejects.toThrow("down");
    expect(first.attempts).toHaveLength(1);
    const second = flaky(5);
    await expect(withRetries({ ...answer, attempts: 3 }, second.call, () => true)).rejects.toThrow("down");
    expect(second.attempts).toHaveLength(3);
  });
});
