// The engine's retry policies, each named and configured once:
//   unknownOutcome  a try or a read whose outcome was unknown: a few quick attempts, then the try
//                   counts as unknown (and is cancelled);
//   answer          what a transaction's answer waits on - its record's writes and its cancels -
//                   retried with capped backoff until the transaction's deadline, so that a shard
//                   restarting within it still ends in a real outcome;
//   settlement      confirms, which nobody waits for: past it recovery sends them again.
// A call is retried by exactly one loop, this one.
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  name: "unknownOutcome" | "answer" | "settlement";
  /** Tries, the first included. */
  attempts: number;
  /** Total time for a call, retries included, unless the caller gives its own deadline. */
  deadlineMs: number;
  /** Wait before the first retry; doubled before each further one, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs?: number;
  /** Longest a single retry may take; the time left when unset. */
  attemptTimeoutMs?: number;
}

export type RetryPolicies = Record<RetryPolicy["name"], RetryPolicy>;

export interface RetryOptions {
  /** Called before each retry (a metric). */
  onRetry?: () => void;
  /** The caller's own deadline (ms since the epoch), instead of the policy's. */
  until?: number;
}

/**
 * Calls `call(attempt, timeoutMs)` until it resolves, while `retryable` says its failure is worth
 * another attempt and attempts and the deadline allow. The first attempt gets no timeout of its own
 * (the caller's default applies); a retry gets the time left, or the policy's attempt timeout if
 * shorter. Throws the last failure.
 */
export function withRetries<T>(
  policy: RetryPolicy,
  call: (attempt: number, timeoutMs: number | undefined) => Promise<T>,
  retryable: (err: unknown, attempt: number) => boolean,
  options?: RetryOptions,
): Promise<T> {
  // The first attempt is a plain promise: the common case, a success, pays for no async frame.
  const deadline = options?.until ?? Date.now() + policy.deadlineMs;
  return call(1, undefined).catch((err: unknown) => retry(policy, deadline, call, retryable, options?.onRetry, err));
}

async function retry<T>(
  policy: RetryPolicy,
  deadline: number,
  call: (attempt: number, timeoutMs: number | undefined) => Promise<T>,
  retryable: (err: unknown, attempt: number) => boolean,
  onRetry: (() => void) | undefined,
  first: unknown,
): Promise<T> {
  let failure = first;
  for (let attempt = 1; ; attempt++) {
    const backoff = Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxBackoffMs ?? Number.POSITIVE_INFINITY);
    if (!retryable(failure, attempt) || attempt >= policy.attempts || Date.now() + backoff >= deadline) throw failure;
    onRetry?.();
    await sleep(backoff);
    try {
      return await call(attempt + 1, Math.min(deadline - Date.now(), policy.attemptTimeoutMs ?? Number.POSITIVE_INFINITY));
    } catch (err) {
      failure = err;
    }
  }
}

/** The engine's policies unless its host gives its own: an unknown try is retried 10 s, an answer waits 30 s. */
export const DEFAULT_RETRY_POLICIES: RetryPolicies = {
  unknownOutcome: { name: "unknownOutcome", attempts: 200, deadlineMs: 10_000, backoffMs: 20, maxBackoffMs: 250, attemptTimeoutMs: 2000 },
  answer: { name: "answer", attempts: Number.POSITIVE_INFINITY, deadlineMs: 30_000, backoffMs: 20, maxBackoffMs: 250, attemptTimeoutMs: 2000 },
  settlement: { name: "settlement", attempts: 6, deadlineMs: 6000, backoffMs: 20 },
};
