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
import { Confirmations } from "./confirmations.js";
import { untracedContext, type BackgroundContext, type TxContext, type TxLogger } from "./context.js";
import { LeaseKeeper } from "./leases.js";
import { ENGINE_ABORT_REASONS, INVALID, UNAVAILABLE, verdict, type EngineAbortReason } from "./decision.js";
import { newTxId, txTime } from "./ids.js";
import type { BeginMode, BeginResult, LogStatus, TxLog, TxRecord, TxSnapshot } from "./log.js";
import { unservedMetrics, type EngineMetrics } from "./metrics.js";
import type { TxProtocol } from "./protocol.js";
import { DEFAULT_RETRY_POLICIES, withRetries, type RetryPolicies } from "./retry.js";
import { phaseBody, type CallOutcome, type ParticipantDefinition, type Transport } from "./transport.js";

/**
 * A transaction as data: its participants, in the order their refusals are reported, each with
 * the part of the transaction it is sent (made from the record's payload) and, when given, the
 * schema the participant checks that part against; and every reason a participant may refuse for.
 */
export interface TransactionDefinition<Payload, Reason extends string> {
  participants: ReadonlyArray<ParticipantDefinition<Payload>>;
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
  | { kind: "rejected"; reason: "circuit_open" | "overloaded"; retryAfter: number; participant?: string }
  /** Its abort could not be completed for longer than the park bound: an operator retries or resolves it. */
  | { kind: "parked" }
  /**
   * Still undecided at the deadline: the record could not be reached, or another driver still
   * holds it. It is durable if it began, and whoever takes its lease next finishes it.
   */
  | { kind: "unknown" };

/** How an engine runs: what it runs, over what, and its policies. Only the first three are required. */
export interface EngineOptions<Payload, Refusal extends string, Reason extends string> {
  /** The transaction it runs. */
  definition: TransactionDefinition<Payload, Reason>;
  /** Where its records live (redis/ for Redis; testing/ for memory). */
  log: TxLog<Payload, Refusal>;
  /** How it reaches the participants (http/ for HTTP; LocalTransport in process). */
  transport: Transport;
  /** The protocol new transactions run; a running one keeps the one it began with. Default saga. */
  protocol?: TxProtocol;
  /** Retry policies; `answer.deadlineMs` is how long a request waits for its transaction's outcome. */
  policies?: Partial<RetryPolicies>;
  /** How long a driver owns a transaction before another instance may take it over; renewed while it drives. */
  leaseMs?: number;
  /** Transactions this instance runs at once; more are rejected rather than queued without bound. */
  maxInFlight?: number;
  /** How long confirms wait to be sent together. */
  confirmDelayMs?: number;
  /**
   * A transaction whose cancels or confirms still fail `afterMs` after it began is parked: the
   * sweep retries it only every `retryMs`, and its subject answers that it is parked.
   */
  park?: { afterMs: number; retryMs: number };
  /** Its metrics (engineMetrics); kept unserved when omitted. */
  metrics?: EngineMetrics;
  /** Where its own work logs; silent when omitted. */
  logger?: TxLogger;
  /** The context of its own work (the sweep, confirms, retries): traced by the host, or untraced. */
  background?: BackgroundContext;
  /** Who holds its leases; the host name and process id when omitted. */
  owner?: string;
  /**
   * Called at each fault point of a drive (see `faultPoints`); a crash test kills the process
   * there to leave a transaction half done.
   */
  onFaultPoint?: (point: string) => void;
}

/** What an engine runs with unless told otherwise; a host's configuration takes its defaults from here. */
export const ENGINE_DEFAULTS = {
  protocol: "saga",
  leaseMs: 3000,
  maxInFlight: 1000,
  confirmDelayMs: 50,
  park: { afterMs: 600_000, retryMs: 3_600_000 },
} as const satisfies Partial<EngineOptions<unknown, string, string>>;

/** The places a test may have the driver die: after begin, after each participant's try, after all tries, after the decision. */
export function faultPoints(participants: readonly string[]): string[] {
  return ["after-begin", ...participants.map((p) => `after-${p}`), "after-steps", "after-decision"];
}

const UNDECIDED = { kind: "unknown" } as const;

export class Orchestrator<Payload, Refusal extends string, Reason extends string> {
  private readonly definition: TransactionDefinition<Payload, Reason>;
  private readonly log: TxLog<Payload, Refusal>;
  private readonly transport: Transport;
  private readonly protocol: TxProtocol;
  private readonly policies: RetryPolicies;
  private readonly leaseMs: number;
  private readonly maxInFlight: number;
  private readonly park: { afterMs: number; retryMs: number };
  private readonly metrics: EngineMetrics;
  private readonly logger: TxLogger;
  private readonly background: BackgroundContext;
  private readonly onFaultPoint: ((point: string) => void) | undefined;
  private readonly owner: string;
  private readonly names: string[];
  private readonly confirmations: Confirmations<Payload>;
  private readonly leases: LeaseKeeper<Payload>;
  private inFlight = 0;

  constructor(options: EngineOptions<Payload, Refusal, Reason>) {
    this.definition = options.definition;
    this.log = options.log;
    this.transport = options.transport;
    this.protocol = options.protocol ?? ENGINE_DEFAULTS.protocol;
    this.policies = { ...DEFAULT_RETRY_POLICIES, ...options.policies };
    this.leaseMs = options.leaseMs ?? ENGINE_DEFAULTS.leaseMs;
    this.maxInFlight = options.maxInFlight ?? ENGINE_DEFAULTS.maxInFlight;
    this.park = options.park ?? ENGINE_DEFAULTS.park;
    this.metrics = options.metrics ?? unservedMetrics();
    this.logger = options.logger ?? untracedContext().log;
    this.background = options.background ?? (() => untracedContext(this.logger));
    this.onFaultPoint = options.onFaultPoint;
    this.owner = options.owner ?? `${hostname()}:${process.pid}`;
    this.names = this.definition.participants.map(([name]) => name);
    this.confirmations = new Confirmations(this.definition.participants, this.log, this.transport, this.policies.settlement, options.confirmDelayMs ?? ENGINE_DEFAULTS.confirmDelayMs, this.background);
    this.leases = new LeaseKeeper(this.log, { ms: this.leaseMs, owner: this.owner });
  }

  /** Transactions this instance runs now. */
  get running(): number {
    return this.inFlight;
  }

  /**
   * Runs the subject's transaction: starts one, or waits for (or takes over) the running one. The
   * answer is its real outcome: the record's writes and the cancels are retried until the deadline
   * (`policies.answer`), so a shard that restarts within it delays the answer rather than changing
   * it, and an abort is answered once its cancels are applied. Only a transaction still undecided
   * at the deadline is answered `unknown`.
   */
  async run(subject: string, ctx: TxContext): Promise<TxOutcome<Refusal, Reason>> {
    if (this.inFlight >= this.maxInFlight) return { kind: "rejected", reason: "overloaded", retryAfter: 1 };
    this.inFlight++;
    const until = Date.now() + this.policies.answer.deadlineMs;
    try {
      const down = this.transport.failingFast();
      if (down) {
        // Nothing is started while a participant is known down; the subject is asked only so that
        // a refusal (e.g. already paid) still says so.
        const refusal = await this.logged(() => this.log.check(subject), until);
        return refusal ? { kind: "refused", reason: refusal } : { kind: "rejected", reason: "circuit_open", ...down };
      }
      let result = await this.start(subject, until);
      if (result.kind === "drive" && result.tx.state !== "trying") {
        // An earlier transaction was decided but not closed: finish it, then start afresh.
        await this.drive(result.tx, ctx, until);
        result = await this.start(subject, until);
      }
      return await this.follow(subject, result, ctx, until);
    } catch (err) {
      // The record stayed out of reach until the deadline.
      if (this.log.retryable(err)) return UNDECIDED;
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Starts a transaction. Attempts share one new id: an attempt whose answer was lost may have
   * begun it, and the next one then drives it (or answers its outcome) at once instead of waiting
   * out its lease (tx_begin). Past half a lease the id is replaced: by then another instance may
   * be about to take the transaction over and end it, and a retry must never re-open an ended id.
   */
  private start(subject: string, until: number): Promise<BeginResult<Payload, Refusal>> {
    let txId = newTxId();
    let since = Date.now();
    return this.logged(() => {
      if (Date.now() - since > this.leaseMs / 2) [txId, since] = [newTxId(), Date.now()];
      return this.beginOnce(subject, "start", txId);
    }, until);
  }

  private begin(subject: string, mode: Exclude<BeginMode, "start">, until: number): Promise<BeginResult<Payload, Refusal>> {
    return this.logged(() => this.beginOnce(subject, mode, ""), until);
  }

  private beginOnce(subject: string, mode: BeginMode, txId: string): Promise<BeginResult<Payload, Refusal>> {
    return this.log.begin(subject, mode, { txId, protocol: this.protocol }, { ms: this.leaseMs, owner: this.owner });
  }

  /** Acts on a begin result until the transaction the caller cares about has an outcome. */
  private async follow(subject: string, first: BeginResult<Payload, Refusal>, ctx: TxContext, until: number): Promise<TxOutcome<Refusal, Reason>> {
    let result = first;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      switch (result.kind) {
        case "drive":
          return this.drive(result.tx, ctx, until);
        case "busy":
          // Another request or instance drives it; its lease bounds how long we wait before we
          // take over ourselves.
          if (Date.now() + wait >= until) return UNDECIDED;
          await sleep(wait);
          result = await this.begin(subject, "watch", until);
          continue;
        case "done":
          return result.lastOutcome === "committed" ? { kind: "committed" } : this.aborted(result.lastOutcome);
        case "refused":
          return result;
        case "parked":
          return { kind: "parked" };
      }
    }
  }

  /**
   * Drives a transaction whose lease we hold to its end, or as far as the participants allow by
   * `until`, renewing the lease meanwhile.
   */
  private drive(tx: TxRecord<Payload>, ctx: TxContext, until: number): Promise<TxOutcome<Refusal, Reason>> {
    this.leases.hold(tx);
    // A promise chain, not another async frame, on the checkout path.
    return this.driveHeld(tx, ctx, until).finally(() => this.leases.release(tx));
  }

  private async driveHeld(tx: TxRecord<Payload>, ctx: TxContext, until: number): Promise<TxOutcome<Refusal, Reason>> {
    this.fault("after-begin");
    switch (tx.state) {
      case "committed": {
        const unconfirmed = await this.confirmations.now([tx]);
        if (unconfirmed) await this.stillOpen(tx, unconfirmed, ctx);
        return { kind: "committed" };
      }
      case "aborting":
        return this.cancel(tx, tx.reason, this.names, this.names, ctx, until);
      case "trying": {
        // However old it is, its tries are sent: a participant answers one it applied as before, and
        // refuses it `expired` once the window has closed if it did not, so a transaction whose
        // tries all landed still commits after its driver, or its log, came back too late.
        // Each participant's body is made once: checked against its schema, then sent.
        const bodies = this.definition.participants.map(([, part]) => phaseBody(tx, part));
        const invalid = this.invalidPart(bodies);
        if (invalid) {
          // No participant would take it, so none is sent anything: the abort closes at once.
          ctx.log.warn({ subject: tx.subject, tx: tx.id, invalid }, "a participant's part is invalid; aborted before any was sent");
          const decided = await this.logged(() => this.log.abort(tx, INVALID), until);
          return decided.kind === "aborting" ? this.cancel(tx, decided.reason, [], [], ctx, until) : this.ended(tx, decided, ctx, until);
        }
        const outcomes = await Promise.all(
          this.definition.participants.map(([name], i) =>
            this.transport.send(name, tx.protocol, "try", bodies[i]!, this.policies.unknownOutcome, ctx).then((outcome) => {
              this.fault(`after-${name}`);
              return this.known(outcome);
            }),
          ),
        );
        this.fault("after-steps");
        const v = verdict(this.names, outcomes);
        const decided = await this.logged(() => (v.decision === "commit" ? this.log.commit(tx) : this.log.abort(tx, v.reason)), until);
        this.fault("after-decision");
        switch (decided.kind) {
          case "committed":
            this.confirmations.later(tx);
            return { kind: "committed" };
          case "aborting": {
            // Our tries tell which participants may hold something, whoever decided the abort.
            if (v.decision === "commit") return this.cancel(tx, decided.reason, this.names, this.names, ctx, until);
            return this.cancel(tx, decided.reason, v.cancel, v.mayHold, ctx, until);
          }
          default:
            return this.ended(tx, decided, ctx, until);
        }
      }
    }
  }

  /**
   * Cancels `participants`, then closes the record. The outcome is the abort either way, but it is
   * answered only once the cancels are applied, or at the deadline: each cancel to a participant
   * in `mayHold` is retried until `until`. The others were never sent this driver's try, so
   * nothing of ours is held there: their cancel (for an earlier driver's try that may still be on
   * its way) gets the settlement policy's few attempts, and if it fails the record stays open for
   * recovery without holding up the answer.
   */
  private async cancel(
    tx: TxRecord<Payload>,
    reason: string,
    participants: readonly string[],
    mayHold: readonly string[],
    ctx: TxContext,
    until: number,
  ): Promise<TxOutcome<Refusal, Reason>> {
    const { answer, settlement } = this.policies;
    const cancelled = await Promise.all(
      this.definition.participants
        .filter(([name]) => participants.includes(name))
        .map(([name, part]) => {
          const policy = mayHold.includes(name) ? answer : settlement;
          return this.transport.send(name, tx.protocol, "cancel", phaseBody(tx, part), policy, ctx, policy === answer ? until : undefined);
        }),
    );
    // A cancel rejected as invalid was sent the part its try was: that was rejected too, and holds nothing.
    if (cancelled.every((c) => c.kind === "done" || c.kind === "invalid")) {
      const closed = await this.logged(() => this.log.finishAbort(tx), until);
      if (closed.kind !== "aborting") return this.ended(tx, closed, ctx, until);
    } else {
      ctx.log.warn({ subject: tx.subject, tx: tx.id }, "cancels not applied by the deadline; left for recovery");
      await this.stillOpen(tx, describeOutcomes(this.names.filter((name) => participants.includes(name)), cancelled), ctx);
    }
    // The abort is decided and durable: whoever takes the lease next finishes the cancels.
    return this.aborted(reason);
  }

  /** The outcome of a decision or close write that found the transaction ended, or gone. */
  private async ended(tx: TxRecord<Payload>, status: LogStatus, ctx: TxContext, until: number): Promise<TxOutcome<Refusal, Reason>> {
    switch (status.kind) {
      case "committed":
        return { kind: "committed" };
      case "aborted":
      case "aborting":
        return this.aborted(status.reason);
      case "unknown":
        // Someone else finished it: the subject tells how.
        return this.follow(tx.subject, await this.begin(tx.subject, "watch", until), ctx, until);
    }
  }

  private aborted(reason: string): TxOutcome<Refusal, Reason> {
    return { kind: "aborted", reason: this.isReason(reason) ? reason : UNAVAILABLE };
  }

  private isReason(reason: string): reason is AbortReason<Reason> {
    return (this.definition.refusals as readonly string[]).includes(reason) || (ENGINE_ABORT_REASONS as readonly string[]).includes(reason);
  }

  /**
   * Records that a drive ended with `tx` still open, and parks it once it has been failing past the
   * park bound (its id tells its age). Bookkeeping only: if the record is out of reach, the next
   * drive records it.
   */
  private async stillOpen(tx: TxRecord<Payload>, outcomes: string, ctx: TxContext): Promise<void> {
    const park = Date.now() - txTime(tx.id) >= this.park.afterMs;
    const now = await this.log.failed(tx, outcomes, park, this.park.retryMs).catch(() => "unknown" as const);
    if (now === "parked") ctx.log.error({ subject: tx.subject, tx: tx.id, state: tx.state, outcomes }, "transaction parked: its cancels or confirms keep failing");
  }

  /**
   * The first participant whose schema rejects its body (its part, with the transaction id), and
   * why; undefined if all accept theirs.
   */
  private invalidPart(bodies: readonly object[]): { participant: string; error: string } | undefined {
    for (const [i, [participant, , schema]] of this.definition.participants.entries()) {
      const checked = schema?.safeParse(bodies[i]);
      if (checked && !checked.success) return { participant, error: checked.error.message };
    }
    return undefined;
  }

  /** A refusal for a reason the definition does not know is not a refusal we can trust: unknown. */
  private known(outcome: CallOutcome): CallOutcome {
    return outcome.kind === "refused" && !this.isReason(outcome.reason) && outcome.reason !== "compensated" ? { kind: "unknown" } : outcome;
  }

  /**
   * Drives every transaction on every shard whose lease ran out: its owner crashed or stalled.
   * Safe to run in any number of instances at once; the lease hands each to one of them. Nobody
   * waits on the answer, so each gets the settlement policy's time, and what is left waits for the
   * next sweep.
   */
  async recover(batch = 100): Promise<number> {
    let recovered = 0;
    await Promise.all(
      Array.from({ length: this.log.sweepGroups }, async (_, group) => {
        for (const subject of await this.log.expired(group, batch)) {
          const until = Date.now() + this.policies.settlement.deadlineMs;
          const result = await this.begin(subject, "resume", until);
          if (result.kind !== "drive") continue;
          const ctx = this.background("recover transaction");
          try {
            const outcome = await this.drive(result.tx, ctx, until);
            recovered++;
            this.metrics.recoveries.inc();
            ctx.log.info({ subject, tx: result.tx.id, outcome }, "recovered transaction");
          } finally {
            ctx.span.end();
          }
        }
      }),
    );
    return recovered;
  }

  /** Open transactions, up to `limit`, as an operator sees them: the parked ones first. */
  async transactions(limit: number): Promise<TxSnapshot[]> {
    const groups = await Promise.all(
      Array.from({ length: this.log.sweepGroups }, async (_, group) => [...(await this.log.list(group, limit, "parked")), ...(await this.log.list(group, limit, "open"))]),
    );
    const subjects = [...new Set(groups.flat())];
    const snapshots = await Promise.all(subjects.map((subject) => this.log.inspect(subject)));
    return snapshots
      .filter((s): s is TxSnapshot => s !== undefined)
      .sort((a, b) => Number(b.parked) - Number(a.parked))
      .slice(0, limit);
  }

  /** The subject's open transaction, as an operator sees it. */
  transaction(subject: string): Promise<TxSnapshot | undefined> {
    return this.log.inspect(subject);
  }

  /**
   * An operator's retry of a parked transaction: drives it now (its cancels or confirms again),
   * whatever its lease. Answers what the record is afterwards: undefined once closed, or still
   * open (parked again if it failed again). `not_parked` when there is nothing to retry.
   */
  async retry(subject: string): Promise<{ outcome: TxOutcome<Refusal, Reason>; open: TxSnapshot | undefined } | "not_parked"> {
    const until = Date.now() + this.policies.settlement.deadlineMs;
    const result = await this.begin(subject, "retry", until);
    if (result.kind !== "drive") return "not_parked";
    const ctx = this.background("retry transaction");
    try {
      const outcome = await this.drive(result.tx, ctx, until);
      ctx.log.info({ subject, tx: result.tx.id, outcome }, "operator retried a parked transaction");
      return { outcome, open: await this.log.inspect(subject) };
    } finally {
      ctx.span.end();
    }
  }

  /**
   * An operator's resolution of a parked transaction whose participants were settled by hand:
   * closes its record as it was decided (aborted, or committed) without calling them again.
   */
  async resolve(subject: string): Promise<"resolved" | "not_parked"> {
    const open = await this.log.inspect(subject);
    if (!open?.parked || open.state === "trying") return "not_parked";
    // Closing needs only the record's identity; the payload is the participants' business.
    const tx = { subject, id: open.id, protocol: open.protocol, state: open.state, reason: open.reason, payload: undefined as Payload };
    if (open.state === "aborting") await this.logged(() => this.log.finishAbort(tx), Date.now() + this.policies.answer.deadlineMs);
    else await this.logged(() => this.log.settle([tx]), Date.now() + this.policies.answer.deadlineMs);
    this.logger.warn({ subject, tx: open.id, state: open.state, lastError: open.lastError }, "operator resolved a parked transaction by hand");
    return "resolved";
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
      this.leases.stop();
      await this.sendQueuedConfirms();
    };
  }

  /** Sends the confirms waiting to be batched; resolves once every batch sent so far was answered. */
  sendQueuedConfirms(): Promise<void> {
    return this.confirmations.drain();
  }

  /**
   * A log call, retried by the answer policy until `until` while the record's shard does not
   * answer, or answered without knowing whether it ran (every log write is idempotent).
   */
  private logged<T>(call: () => Promise<T>, until: number): Promise<T> {
    return withRetries(this.policies.answer, call, (err) => this.log.retryable(err), { until });
  }

  private fault(point: string): void {
    this.onFaultPoint?.(point);
  }
}

/** What each participant's call came to, as one line an operator reads: `stock=invalid: items: ...; payment=done`. */
export function describeOutcomes(names: readonly string[], outcomes: readonly CallOutcome[]): string {
  return names
    .map((name, i) => {
      const o = outcomes[i]!;
      return `${name}=${o.kind}${o.kind === "refused" ? `: ${o.reason}` : o.kind === "invalid" ? `: ${o.error}` : ""}`;
    })
    .join("; ");
}
