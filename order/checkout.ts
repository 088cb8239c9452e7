// The checkout saga, driven by whichever order instance holds the transaction's lease.
//
//   begin (durable record, lease)  ->  reserve stock ‖ charge credit  ->  commit  |  abort
//                                                                    abort -> release ‖ refund -> finish
//
// The order shard decides: commit and abort are compare-and-set on the transaction record, so
// exactly one of them wins, whoever drives. Participant steps are idempotent by transaction id and
// their compensations final, so re-driving a transaction after a crash is always safe.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { newId } from "../common/ids.js";
import type { Logger } from "../common/log.js";
import { elapsedSeconds } from "../common/metrics.js";
import { OutcomeUnknownError } from "../common/redis.js";
import { backgroundContext, type RequestContext, type Tracer } from "../common/tracing.js";
import { abortCategory, checkoutDuration, checkoutRecoveries } from "./metrics.js";
import type { Participants, StepOutcome } from "./participants.js";
import type { BeginResult, OrderStore, Transaction } from "./store.js";

export type CheckoutOutcome =
  | { kind: "committed" | "already_paid" | "not_found" | "empty" }
  | { kind: "aborted"; reason: string }
  /** Refused before anything was written: a participant is known down, or this instance is full. */
  | { kind: "rejected"; reason: "circuit_open" | "overloaded"; retryAfter: number; participant?: string };

/** Test-only places where the order process kills itself (SIGKILL) mid-saga. */
export const FAULT_POINTS = ["after-begin", "after-stock", "after-payment", "after-steps", "after-decision"] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface CheckoutOptions {
  leaseMs: number;
  /** Checkouts this instance runs at once; more are refused (429) rather than queued without bound. */
  maxInFlight: number;
  faultPoint?: FaultPoint;
}

/** Why an abort was decided, from the two steps' outcomes. */
function abortReason(stock: StepOutcome, payment: StepOutcome): string {
  // Stock's reason comes first when both refused.
  for (const outcome of [stock, payment]) {
    if (outcome.kind === "refused" && outcome.reason !== "compensated") return outcome.reason;
  }
  return "unavailable";
}

export class Checkout {
  private readonly owner = `${hostname()}:${process.pid}`;

  constructor(
    private readonly store: OrderStore,
    private readonly participants: Participants,
    private readonly options: CheckoutOptions,
    private readonly log: Logger,
    private readonly tracer: Tracer,
  ) {}

  /** Checkouts this instance runs now. */
  inFlight = 0;

  /** A checkout request: starts the order's transaction, or waits for the running one. */
  async checkout(orderId: string, ctx: RequestContext): Promise<CheckoutOutcome> {
    const start = performance.now();
    if (this.inFlight >= this.options.maxInFlight) return this.counted(start, { kind: "rejected", reason: "overloaded", retryAfter: 1 });
    this.inFlight++;
    try {
      const down = this.participants.failingFast();
      if (down) return this.counted(start, await this.refuseWhileDown(orderId, down));
      const txId = newId();
      let result = await this.begin(orderId, "start", txId);
      if (result.kind === "drive" && result.tx.id !== txId && result.tx.state === "aborting") {
        // An earlier attempt was rolled back but not yet fully compensated: finish it, then start afresh.
        await this.drive(result.tx, ctx);
        result = await this.begin(orderId, "start", txId);
      }
      return this.counted(start, await this.follow(orderId, result, ctx));
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Nothing is started while a participant is known down. The order is read only so that an order
   * already paid still says so.
   */
  private async refuseWhileDown(orderId: string, down: { participant: string; retryAfter: number }): Promise<CheckoutOutcome> {
    const order = await this.store.find(orderId);
    if (!order) return { kind: "not_found" };
    if (order.paid) return { kind: "already_paid" };
    return { kind: "rejected", reason: "circuit_open", ...down };
  }

  private counted(start: number, outcome: CheckoutOutcome): CheckoutOutcome {
    const reason = outcome.kind === "aborted" ? abortCategory(outcome.reason) : outcome.kind === "rejected" ? outcome.reason : "";
    checkoutDuration.recorder(outcome.kind, reason).observe(elapsedSeconds(start));
    return outcome;
  }

  private begin(orderId: string, mode: "start" | "watch" | "resume", txId = ""): Promise<BeginResult> {
    return this.store.beginCheckout(orderId, mode, txId, this.options.leaseMs, this.owner);
  }

  /** Acts on a begin result until the transaction the caller cares about has an outcome. */
  private async follow(orderId: string, first: BeginResult, ctx: RequestContext): Promise<CheckoutOutcome> {
    let result = first;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      switch (result.kind) {
        case "drive":
          return this.drive(result.tx, ctx);
        case "busy":
          // Another request or instance drives it; its lease bounds how long we wait before we
          // take over ourselves.
          await sleep(wait);
          result = await this.begin(orderId, "watch", result.txId);
          continue;
        case "done":
          // The transaction we waited on is over: the order tells how it ended.
          if (result.paid) return { kind: "committed" };
          return { kind: "aborted", reason: result.lastOutcome || "unavailable" };
        case "paid":
          return { kind: "already_paid" };
        default:
          return { kind: result.kind };
      }
    }
  }

  /** Drives a transaction whose lease we hold to its end (or as far as the participants allow). */
  async drive(tx: Transaction, ctx: RequestContext): Promise<CheckoutOutcome> {
    this.fault("after-begin");
    let reason = tx.reason;
    let compensateStock = true;
    let compensatePayment = true;

    if (tx.state === "trying") {
      const [stock, payment] = await Promise.all([
        this.participants.reserveStock(tx, ctx).then((o) => (this.fault("after-stock"), o)),
        this.participants.chargeCredit(tx, ctx).then((o) => (this.fault("after-payment"), o)),
      ]);
      this.fault("after-steps");
      const decided =
        stock.kind === "done" && payment.kind === "done"
          ? await this.retry(() => this.store.commit(tx))
          : await this.retry(() => this.store.decideAbort(tx, abortReason(stock, payment)));
      this.fault("after-decision");
      if (decided.kind === "finished") return outcomeOf(decided.outcome);
      if (decided.kind === "unknown") return this.settled(tx, ctx);
      reason = decided.reason;
      // A refusal is final and holds nothing, and a step never sent took nothing: only the other
      // participant needs compensating.
      compensateStock = stock.kind !== "refused" && stock.kind !== "not_sent";
      compensatePayment = payment.kind !== "refused" && payment.kind !== "not_sent";
    }

    const compensated = await Promise.all([
      compensateStock ? this.retry(() => this.participants.releaseStock(tx, ctx), true) : true,
      compensatePayment ? this.retry(() => this.participants.refundCredit(tx, ctx), true) : true,
    ]);
    if (compensated.every(Boolean)) {
      const finished = await this.retry(() => this.store.finishAbort(tx));
      if (finished.kind === "finished") return outcomeOf(finished.outcome);
    } else {
      ctx.log.warn({ order: tx.orderId, tx: tx.id }, "compensation incomplete; left for recovery");
    }
    // The abort is decided and durable: whoever takes the lease next finishes the compensation.
    return { kind: "aborted", reason };
  }

  /** Outcome of a transaction someone else finished, read back from the order. */
  private async settled(tx: Transaction, ctx: RequestContext): Promise<CheckoutOutcome> {
    return this.follow(tx.orderId, await this.begin(tx.orderId, "watch", tx.id), ctx);
  }

  /**
   * Drives every transaction on every shard whose lease ran out: its owner crashed or stalled.
   * Safe to run in any number of instances at once; the lease hands each to one of them.
   */
  async recover(batch = 100): Promise<number> {
    let recovered = 0;
    await Promise.all(
      this.store.shards.clients.map(async (_, shard) => {
        for (const orderId of await this.store.expiredCheckouts(shard, batch)) {
          const result = await this.begin(orderId, "resume");
          if (result.kind !== "drive") continue;
          const ctx = backgroundContext(this.tracer, "recover checkout", this.log);
          const outcome = await this.drive(result.tx, ctx);
          ctx.span.end();
          recovered++;
          checkoutRecoveries.inc();
          ctx.log.info({ order: orderId, tx: result.tx.id, outcome }, "recovered checkout");
        }
      }),
    );
    return recovered;
  }

  /** Runs `recover` now and every `intervalMs`, never overlapping itself. */
  startRecovery(intervalMs: number): () => void {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const loop = async () => {
      try {
        await this.recover();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "recovery sweep failed; will retry");
      }
      if (!stopped) timer = setTimeout(loop, intervalMs);
    };
    timer = setTimeout(loop, Math.min(intervalMs, 200));
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /**
   * Retries an idempotent call a few times with backoff: Redis scripts whose outcome is unknown
   * (rethrown at the end) or participant compensations (`untilTrue`: retried while false).
   */
  private async retry<T>(call: () => Promise<T>, untilTrue = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await call();
        if (!untilTrue || value || attempt >= 3) return value;
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError) || attempt >= 3) throw err;
      }
      await sleep(50 * attempt * attempt);
    }
  }

  private fault(point: FaultPoint): void {
    if (this.options.faultPoint === point) process.kill(process.pid, "SIGKILL");
  }
}

function outcomeOf(outcome: string): CheckoutOutcome {
  return outcome === "committed" ? { kind: "committed" } : { kind: "aborted", reason: outcome };
}
