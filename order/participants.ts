// The order service's calls to stock and payment: retries with backoff within a total deadline
// (every call made here is idempotent: saga steps by transaction id, the rest are reads), and for
// saga steps a per-participant circuit breaker. Reads (does this user exist, what does this item
// cost) bypass the breaker: they change nothing, and failing them fast would only delay the probe
// that closes it.
//
// Saga calls never throw: a step is done, refused (final, holds nothing), unknown (no clear answer:
// it may have been applied), or not sent at all because the participant's breaker is open.
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen } from "cockatiel";
import { setTimeout as sleep } from "node:timers/promises";
import { HTTPException } from "hono/http-exception";
import type { ServiceClient, ServiceReply } from "../common/http.js";
import { elapsedSeconds, type Recorder } from "../common/metrics.js";
import { sagaRoutes, type RefusalReason, type StepReply } from "../common/saga.js";
import type { RequestContext } from "../common/tracing.js";
import { circuitBreakerState, sagaStepDuration, sagaStepRetries } from "./metrics.js";
import type { Transaction } from "./store.js";

export type StepOutcome =
  | { kind: "done" }
  | { kind: "refused"; reason: RefusalReason }
  | { kind: "unknown" }
  | { kind: "not_sent" };

export interface ResilienceOptions {
  /** Total time for a call, retries included; past it the outcome is unknown. */
  deadlineMs: number;
  /** Tries per call, the first included. */
  attempts: number;
  /** Consecutive failed calls that open a participant's breaker. */
  breakerFailures: number;
  /** How long an open breaker fails fast before letting one probe call through. */
  breakerHalfOpenMs: number;
}

/** A participant's 5xx answer: it could not do its part now. */
class ParticipantFailure extends Error {}

/** Failures worth another attempt, and that say the participant is unwell. */
const isTransient = (err: unknown) => !(err instanceof BrokenCircuitError);

/** An answer that is a failure too: a 5xx, the participant could not tell (e.g. its Redis did not answer). */
const failedAnswer = (reply: ServiceReply) => reply.status >= 500;

export class Participant {
  private readonly breaker;
  private openedAt = 0;
  /** A latency recorder per step and result, resolved once. */
  private readonly stepRecorders: Record<Step, Record<StepOutcome["kind"], Recorder>>;

  constructor(
    readonly name: "stock" | "payment",
    private readonly client: ServiceClient,
    private readonly options: ResilienceOptions,
  ) {
    this.breaker = circuitBreaker(handleWhen(isTransient).orWhenResult((reply) => failedAnswer(reply as ServiceReply)), {
      halfOpenAfter: options.breakerHalfOpenMs,
      breaker: new ConsecutiveBreaker(options.breakerFailures),
    });
    this.breaker.onBreak(() => (this.openedAt = Date.now()));
    this.breaker.onStateChange((state) => circuitBreakerState.set({ participant: name }, BREAKER_GAUGE[state]));
    circuitBreakerState.set({ participant: name }, 0);
    const recorders = (step: Step) => Object.fromEntries(RESULTS.map((result) => [result, sagaStepDuration.recorder(name, step, result)]));
    this.stepRecorders = Object.fromEntries(STEPS.map((step) => [step, recorders(step)])) as typeof this.stepRecorders;
  }

  /**
   * Seconds until the breaker lets a probe through, or 0 when calls may be sent. While it is open
   * new work is refused before it starts; once due, the next call is the probe.
   */
  failingFastFor(): number {
    const state = this.breaker.state;
    if (state === CircuitState.HalfOpen) return 1;
    if (state !== CircuitState.Open) return 0;
    const left = this.openedAt + this.options.breakerHalfOpenMs - Date.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** A read, retried; throws when there is no usable answer. */
  read<T>(path: string, ctx: RequestContext): Promise<ServiceReply<T>> {
    return this.send(false, "GET", path, ctx);
  }

  /**
   * Sends (through the breaker when `guarded`), and again after a transient failure (no answer, or
   * a failed answer) with exponential backoff (20, 40, 80... ms), while attempts and the deadline
   * allow. 4xx answers are the participant's decisions, and a healthy participant's. Throws when
   * there is no usable answer.
   *
   * The first attempt waits with the client's own timeout, the whole deadline; only a retry sets a
   * shorter one. The loop is ours rather than cockatiel's retry policy, whose promise layers cost
   * every call, successful ones included, measurably on the checkout path.
   */
  private async send<T>(guarded: boolean, method: "GET" | "POST", path: string, ctx: RequestContext, body?: unknown): Promise<ServiceReply<T>> {
    const span = ctx.span.startCall(method, path);
    const headers = ctx.callHeaders(span);
    const deadline = Date.now() + this.options.deadlineMs;
    for (let attempt = 1; ; attempt++) {
      const options = { body, headers, timeoutMs: attempt === 1 ? undefined : deadline - Date.now() };
      let failure: unknown;
      try {
        const reply = guarded
          ? await this.breaker.execute(() => this.client.request<T>(method, path, options))
          : await this.client.request<T>(method, path, options);
        if (!failedAnswer(reply)) {
          span.end(reply.status);
          return reply;
        }
        failure = new ParticipantFailure(`${this.name} answered ${reply.status}`);
      } catch (err) {
        failure = err;
      }
      const refusedByBreaker = !isTransient(failure);
      // The breaker opened after an earlier attempt went out, and that one may have been applied:
      // the outcome is unknown (so the step is compensated), never "not sent".
      if (refusedByBreaker && attempt > 1) failure = new ParticipantFailure(`${this.name}: circuit opened after ${attempt - 1} attempt(s) were sent`);
      const backoff = 20 * 2 ** (attempt - 1);
      if (refusedByBreaker || attempt >= this.options.attempts || Date.now() + backoff >= deadline) {
        span.end(undefined, failure as Error);
        throw failure;
      }
      sagaStepRetries.inc({ participant: this.name });
      await sleep(backoff);
    }
  }

  /** A saga step: its outcome, timed. */
  async step(step: Step, path: string, ctx: RequestContext, body: unknown): Promise<StepOutcome> {
    const start = performance.now();
    let outcome: StepOutcome;
    try {
      outcome = toOutcome(await this.send<StepReply>(true, "POST", path, ctx, body));
    } catch (err) {
      outcome = err instanceof BrokenCircuitError ? NOT_SENT : UNKNOWN;
    }
    this.stepRecorders[step][outcome.kind].observe(elapsedSeconds(start));
    return outcome;
  }
}

const STEPS = ["reserve", "charge", "release", "refund"] as const;
type Step = (typeof STEPS)[number];
const RESULTS: Array<StepOutcome["kind"]> = ["done", "refused", "unknown", "not_sent"];

const BREAKER_GAUGE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.Open]: 1,
  [CircuitState.Isolated]: 1,
  [CircuitState.HalfOpen]: 2,
};

const DONE: StepOutcome = { kind: "done" };
const UNKNOWN: StepOutcome = { kind: "unknown" };
const NOT_SENT: StepOutcome = { kind: "not_sent" };

function toOutcome({ status, body }: ServiceReply<StepReply>): StepOutcome {
  if (status === 200 && body?.status === "done") return DONE;
  if (status === 409 && body?.status === "refused") return { kind: "refused", reason: body.reason };
  return UNKNOWN;
}

const unavailable = (service: string) =>
  new HTTPException(503, { message: `${service} service unavailable; nothing was changed` });

export class Participants {
  constructor(
    readonly stock: Participant,
    readonly payment: Participant,
  ) {}

  /** The participant whose breaker refuses new work now, with seconds to wait; undefined if none. */
  failingFast(): { participant: string; retryAfter: number } | undefined {
    for (const p of [this.stock, this.payment]) {
      const retryAfter = p.failingFastFor();
      if (retryAfter > 0) return { participant: p.name, retryAfter };
    }
    return undefined;
  }

  reserveStock(tx: Transaction, ctx: RequestContext): Promise<StepOutcome> {
    return this.stock.step("reserve", sagaRoutes.reserveStock, ctx, { tx: tx.id, items: tx.items });
  }

  chargeCredit(tx: Transaction, ctx: RequestContext): Promise<StepOutcome> {
    return this.payment.step("charge", sagaRoutes.chargeCredit, ctx, { tx: tx.id, user_id: tx.userId, amount: tx.total });
  }

  /** Compensations: true once the participant confirmed. */
  async releaseStock(tx: Transaction, ctx: RequestContext): Promise<boolean> {
    return (await this.stock.step("release", sagaRoutes.releaseStock, ctx, { tx: tx.id, items: tx.items })).kind === "done";
  }

  async refundCredit(tx: Transaction, ctx: RequestContext): Promise<boolean> {
    return (await this.payment.step("refund", sagaRoutes.refundCredit, ctx, { tx: tx.id, user_id: tx.userId })).kind === "done";
  }

  /** The item's price, null if it does not exist; throws a 503 if stock cannot tell. */
  async itemPrice(itemId: string, ctx: RequestContext): Promise<number | null> {
    const reply = await this.stock.read<{ price: number }>(`/stock/find/${itemId}`, ctx).catch(() => null);
    if (reply?.status === 404) return null;
    if (reply?.status !== 200) throw unavailable("stock");
    return reply.body.price;
  }

  /** Whether the user exists; throws a 503 if payment cannot tell. */
  async userExists(userId: string, ctx: RequestContext): Promise<boolean> {
    const reply = await this.payment.read(`/payment/find_user/${userId}`, ctx).catch(() => null);
    if (reply?.status === 404) return false;
    if (reply?.status !== 200) throw unavailable("payment");
    return true;
  }
}
