import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withRetries, type RetryPolicy } from "./retry.js";

const answer: RetryPolicy = { name: "answer", attempts: Number.POSITIVE_INFINITY, deadlineMs: 60_000, backoffMs: 1, maxBackoffMs: 8, attemptTimeoutMs: 50 };

/** A call that fails `failures` times, recording each attempt's timeout. */
function flaky(failures: number) {
  const attempts: Array<{ timeoutMs: number | undefined }> = [];
  const call = async (_: number, timeoutMs: number | undefined) => {
    attempts.push({ timeoutMs });
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
  });

  // The deadline is kept by Date: frozen in these tests and moved only by them, so what they see
  // does not depend on how long the machine takes.
  describe("against a deadline", () => {
    beforeEach(() => vi.useFakeTimers({ toFake: ["Date"] }));
    afterEach(() => vi.useRealTimers());

    it("caps the backoff: a retry is never refused for a wait longer than maxBackoffMs", async () => {
      // The clock stands still, so a retry is refused only if its wait alone passes the deadline:
      // uncapped doubling would stop at the fifth (16 ms), capped it never does.
      const { attempts, call } = flaky(12);
      expect(await withRetries(answer, call, () => true, { until: Date.now() + answer.maxBackoffMs! + 1 })).toBe("ok");
      expect(attempts).toHaveLength(13);
    });

    it("gives up at the caller's deadline, which replaces the policy's, with the last failure", async () => {
      const until = Date.now() + 100;
      let attempts = 0;
      const call = async () => {
        // The third attempt takes until the deadline.
        if (++attempts === 3) vi.setSystemTime(until);
        throw new Error(`down ${attempts}`);
      };
      await expect(withRetries(answer, call, () => true, { until })).rejects.toThrow("down 3");
      expect(attempts).toBe(3);
    });
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
