// The engine's retry policies. Two, each named and configured once: `unknownOutcome` for calls
// whose outcome was unknown (a try, a decision write, a read), `settlement` for cancels and
// confirms, which must get through eventually and so try longer. A call is retried by exactly one
// loop, this one; past it the engine leaves the transaction to recovery.
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  name: "unknownOutcome" | "settlement";
  /** Tries, the first included. */
  attempts: number;
  /** Total time for a call, retries included; past it the outcome stays unknown. */
  deadlineMs: number;
  /** Wait before the first retry; doubled before each further one. */
  backoffMs: number;
}

export type RetryPolicies = Record<RetryPolicy["name"], RetryPolicy>;

/**
 * Calls `call(attempt, timeoutMs)` until it resolves, while `retryable` says its failure is worth
 * another attempt and attempts and the deadline allow. The first attempt gets no timeout of its own
 * (the caller's default applies); a retry gets the time left. Throws the last failure.
 */
export function withRetries<T>(
  policy: RetryPolicy,
  call: (attempt: number, timeoutMs: number | undefined) => Promise<T>,
  retryable: (err: unknown, attempt: number) => boolean,
  onRetry?: () => void,
): Promise<T> {
  // The first attempt is a plain promise: the common case, a success, pays for no async frame.
  const deadline = Date.now() + policy.deadlineMs;
  return call(1, undefined).catch((err: unknown) => retry(policy, deadline, call, retryable, onRetry, err));
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
    const backoff = policy.backoffMs * 2 ** (attempt - 1);
    if (!retryable(failure, attempt) || attempt >= policy.attempts || Date.now() + backoff >= deadline) throw failure;
    onRetry?.();
    await sleep(backoff);
    try {
      return await call(attempt + 1, deadline - Date.now());
    } catch (err) {
      failure = err;
    }
  }
}
