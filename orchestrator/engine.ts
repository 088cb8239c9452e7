// The transaction engine: runs a transaction, described as data, over its participants with the
// configured protocol, driven by whichever instance holds the transaction's lease.
//
//   begin (durable record, lease) -> try every participant -> decide (compare-and-set on the record)
//     commit -> answer; confirm every participant later (batched), then close the record
//     abort  -> cancel the participants that may hold something, then close the record -> answer
//
// Exactly one decision wins, whoever drives. Every phase is idempotent by transaction id and cancel
// is final, so re-driving a transaction after a crash is always safe: a second instance takes over
// when the lease runs out, for a retried request or from the recovery sweep.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../common/log.js";
import { OutcomeUnknownError } from "../common/redis.js";
import { backgroundContext, type RequestContext, type Tracer } from "../common/tracing.js";
import { Confirmations } from "./confirmations.js";
import { ENGINE_ABORT_REASONS, UNAVAILABLE, verdict, type EngineAbortReason } from "./decision.js";
import type { BeginMode, BeginResult, LogStatus, TxLog, TxRecord } from "./log.js";
import { transactionRecoveries } from "./metrics.js";
import { newTxId } from "./participant.js";
import type { TxProtocol } from "./protocol.js";
import type { RetryPolicies } from "./retry.js";
import { withRetries } from "./retry.js";
import { phaseBody, type CallOutcome, type Transport } from "./transport.js";

/**
 * A transaction as data: its participants, in the order their refusals are reported, each with
 * the part of the transaction it is sent (made from the record's payload), and every reason a
 * participant may refuse for.
 */
export interface TransactionDefinition<Payload, Reason extends string> {
  participants: ReadonlyArray<readonly [name: string, part: (payload: Payload) => object]>;
  refusals: readonly Reason[];
}

/** Why a transaction aborted: a participant's refusal, or one of the engine's own reasons. */
export type AbortReason<Reason extends string> = Reason | EngineAbortReason;

export type TxOutcome<Refusal extends string, Reason extends string> =
  | { kind: "committed" }
  | { kind: "aborted"; reason: AbortReason<Reason> }
  /** The subject refused before anything was written (e.g. the order is already paid). */
  | { kind: "refused"; reason: Refusal }
  /** Refused before anything was written: a participant is known down, or this instance is full. */
  | { kind: "rejected"; reason: "circuit_open" | "overloaded"; retryAfter: number; participant?: string };

export interface EngineOptions {
  /** The protocol new transactions run; a running one keeps the one it began with. */
  protocol: TxProtocol;
  policies: RetryPolicies;
  /** How long a driver owns a transaction before another instance may take it over. */
  leaseMs: number;
  /** Transactions this instance runs at once; more are rejected rather than queued without bound. */
  maxInFlight: number;
  /** How long confirms wait to be sent together. */
  confirmDelayMs: number;
  /** Test only: the process kills itself (SIGKILL) at this point (see `faultPoints`). */
  faultPoint?: string;
}

/** The places a test may have the driver kill itself: after begin, after each participant's try, after all tries, after the decision. */
export function faultPoints(participants: readonly string[]): string[] {
  return ["after-begin", ...participants.map((p) => `after-${p}`), "after-steps", "after-decision"];
}

export class Orchestrator<Payload, Refusal extends string, Reason extends string> {
  private readonly owner = `${hostname()}:${process.pid}`;
  private readonly names: string[];
  private readonly confirmations: Confirmations<Payload>;
  /** Transactions this instance runs now. */
  inFlight = 0;

  constructor(
    private readonly definition: TransactionDefinition<Payload, Reason>,
    private readonly log: TxLog<Payload, Refusal>,
    private readonly transport: Transport,
    private readonly options: EngineOptions,
    private readonly logger: Logger,
    private readonly tracer: Tracer,
  ) {
    this.names = definition.participants.map(([name]) => name);
    this.confirmations = new Confirmations(definition.participants, log, transport, options.policies.settlement, options.confirmDelayMs, logger, tracer);
  }

  /** Runs the subject's transaction: starts one, or waits for (or takes over) the running one. */
  async run(subject: string, ctx: RequestContext): Promise<TxOutcome<Refusal, Reason>> {
    if (this.inFlight >= this.options.maxInFlight) return { kind: "rejected", reason: "overloaded", retryAfter: 1 };
    this.inFlight++;
    try {
      const down = this.transport.failingFast();
      if (down) {
        // Nothing is started while a participant is known down; the subject is asked only so that
        // a refusal (e.g. already paid) still says so.
        const refusal = await this.logged(() => this.log.check(subject));
        return refusal ? { kind: "refused", reason: refusal } : { kind: "rejected", reason: "circuit_open", ...down };
      }
      let result = await this.start(subject);
      if (result.kind === "drive" && result.tx.state !== "trying") {
        // An earlier transaction was decided but not closed: finish it, then start afresh.
        await this.drive(result.tx, ctx);
        result = await this.start(subject);
      }
      return await this.follow(subject, result, ctx);
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Starts a transaction. Every attempt gets a new id: an attempt whose answer was lost may still
   * have begun its transaction, and one delayed (say the driver stalled) must never re-open an id
   * that has ended. A transaction begun by a lost attempt holds a lease, and is driven once it runs out.
   */
  private start(subject: string): Promise<BeginResult<Payload, Refusal>> {
    return this.logged(() => this.beginOnce(subject, "start", newTxId()));
  }

  private begin(subject: string, mode: Exclude<BeginMode, "start">): Promise<BeginResult<Payload, Refusal>> {
    return this.logged(() => this.beginOnce(subject, mode, ""));
  }

  private beginOnce(subject: string, mode: BeginMode, txId: string): Promise<BeginResult<Payload, Refusal>> {
    return this.log.begin(subject, mode, { txId, protocol: this.options.protocol }, { ms: this.options.leaseMs, owner: this.owner });
  }

  /** Acts on a begin result until the transaction the caller cares about has an outcome. */
  private async follow(subject: string, first: BeginResult<Payload, Refusal>, ctx: RequestContext): Promise<TxOutcome<Refusal, Reason>> {
    let result = first;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      switch (result.kind) {
        case "drive":
          return this.drive(result.tx, ctx);
        case "busy":
          // Another request or instance drives it; its lease bounds how long we wait before we
          // take over ourselves.
          await sleep(wait);
          result = await this.begin(subject, "watch");
          continue;
        case "done":
          return result.lastOutcome === "committed" ? { kind: "committed" } : this.aborted(result.lastOutcome);
        case "refused":
          return result;
      }
    }
  }

  /** Drives a transaction whose lease we hold to its end (or as far as the participants allow). */
  async drive(tx: TxRecord<Payload>, ctx: RequestContext): Promise<TxOutcome<Refusal, Reason>> {
    this.fault("after-begin");
    switch (tx.state) {
      case "committed":
        await this.confirmations.now([tx]);
        return { kind: "committed" };
      case "aborting":
        return this.cancel(tx, tx.reason, this.names, ctx);
      case "trying": {
        const outcomes = await Promise.all(
          this.definition.participants.map(([name, part]) =>
            this.transport.send(name, tx.protocol, "try", phaseBody(tx, part), this.options.policies.unknownOutcome, ctx).then((outcome) => {
              this.fault(`after-${name}`);
              return this.known(outcome);
            }),
          ),
        );
        this.fault("after-steps");
        const v = verdict(this.names, outcomes);
        const decided = await this.logged(() => (v.decision === "commit" ? this.log.commit(tx) : this.log.abort(tx, v.reason)));
        this.fault("after-decision");
        switch (decided.kind) {
          case "committed":
            this.confirmations.later(tx);
            return { kind: "committed" };
          case "aborting":
            // Our tries tell which participants may hold something, whoever decided the abort.
            return this.cancel(tx, decided.reason, v.decision === "abort" ? v.cancel : this.names, ctx);
          default:
            return this.ended(tx, decided, ctx);
        }
      }
    }
  }

  /** Cancels where needed, then closes the record; the outcome is the abort either way. */
  private async cancel(tx: TxRecord<Payload>, reason: string, participants: readonly string[], ctx: RequestContext): Promise<TxOutcome<Refusal, Reason>> {
    const cancelled = await Promise.all(
      this.definition.participants
        .filter(([name]) => participants.includes(name))
        .map(([name, part]) => this.transport.send(name, tx.protocol, "cancel", phaseBody(tx, part), this.options.policies.settlement, ctx)),
    );
    if (cancelled.every((c) => c.kind === "done")) {
      const closed = await this.logged(() => this.log.finishAbort(tx));
      if (closed.kind !== "aborting") return this.ended(tx, closed, ctx);
    } else {
      ctx.log.warn({ subject: tx.subject, tx: tx.id }, "cancel incomplete; left for recovery");
    }
    // The abort is decided and durable: whoever takes the lease next finishes the cancels.
    return this.aborted(reason);
  }

  /** The outcome of a decision or close write that found the transaction ended, or gone. */
  private async ended(tx: TxRecord<Payload>, status: LogStatus, ctx: RequestContext): Promise<TxOutcome<Refusal, Reason>> {
    switch (status.kind) {
      case "committed":
        return { kind: "committed" };
      case "aborted":
      case "aborting":
        return this.aborted(status.reason);
      case "unknown":
        // Someone else finished it: the subject tells how.
        return this.follow(tx.subject, await this.begin(tx.subject, "watch"), ctx);
    }
  }

  private aborted(reason: string): TxOutcome<Refusal, Reason> {
    return { kind: "aborted", reason: this.isReason(reason) ? reason : UNAVAILABLE };
  }

  private isReason(reason: string): reason is AbortReason<Reason> {
    return (this.definition.refusals as readonly string[]).includes(reason) || (ENGINE_ABORT_REASONS as readonly string[]).includes(reason);
  }

  /** A refusal for a reason the definition does not know is not a refusal we can trust: unknown. */
  private known(outcome: CallOutcome): CallOutcome {
    return outcome.kind === "refused" && !this.isReason(outcome.reason) && outcome.reason !== "compensated" ? { kind: "unknown" } : outcome;
  }

  /**
   * Drives every transaction on every shard whose lease ran out: its owner crashed or stalled.
   * Safe to run in any number of instances at once; the lease hands each to one of them.
   */
  async recover(batch = 100): Promise<number> {
    let recovered = 0;
    await Promise.all(
      Array.from({ length: this.log.shardCount }, async (_, shard) => {
        for (const subject of await this.log.expired(shard, batch)) {
          const result = await this.begin(subject, "resume");
          if (result.kind !== "drive") continue;
          const ctx = backgroundContext(this.tracer, "recover transaction", this.logger);
          try {
            const outcome = await this.drive(result.tx, ctx);
            recovered++;
            transactionRecoveries.inc();
            ctx.log.info({ subject, tx: result.tx.id, outcome }, "recovered transaction");
          } finally {
            ctx.span.end();
          }
        }
      }),
    );
    return recovered;
  }

  /** Runs `recover` now and every `intervalMs`, never overlapping itself; the returned stop also sends queued confirms. */
  startRecovery(intervalMs: number): () => Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const loop = async () => {
      try {
        await this.recover();
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, "recovery sweep failed; will retry");
      }
      if (!stopped) timer = setTimeout(loop, intervalMs);
    };
    timer = setTimeout(loop, Math.min(intervalMs, 200));
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await this.sendQueuedConfirms();
    };
  }

  /** Sends the confirms waiting to be batched; resolves once every batch sent so far was answered. */
  sendQueuedConfirms(): Promise<void> {
    return this.confirmations.drain();
  }

  /** A log call, retried by the unknown-outcome policy while its outcome is unknown (every log write is idempotent). */
  private logged<T>(call: () => Promise<T>): Promise<T> {
    return withRetries(this.options.policies.unknownOutcome, call, (err) => err instanceof OutcomeUnknownError);
  }

  private fault(point: string): void {
    if (this.options.faultPoint === point) process.kill(process.pid, "SIGKILL");
  }
}
