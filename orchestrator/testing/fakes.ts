// In-memory stand-ins for the engine's storage and transport, for the property tests: the same
// semantics as the Redis scripts (redis/lua/*.lua and the participants' phase scripts); testing/conformance.ts holds both to
// one contract, with every call
// passing through a scripted fault first. Test code only.
import type { BeginMode, BeginResult, LogStatus, TxLog, TxRecord, TxSnapshot } from "../log.js";
import type { Phase, TxProtocol } from "../protocol.js";
import { withRetries, type RetryPolicy } from "../retry.js";
import type { CallOutcome, Transport } from "../transport.js";

/**
 * What happens to one call. ok: applied and answered. lost: applied, the answer lost. dropped: never
 * applied, no answer. not_sent (transport only): refused before sending. crash: the caller dies
 * before it is applied (the call never returns). crash_after: applied, then the caller dies.
 * stall: held until `release()`, then applied and answered: a late delivery.
 */
export type Fault = "ok" | "lost" | "dropped" | "not_sent" | "crash" | "crash_after" | "stall";

/** The faults to apply, in call order across every fake; once used up, every call is ok. */
export class FaultPlan {
  private next = 0;
  private readonly stalled: Array<() => void> = [];
  /** Calls that hung for good (a crash) or for now (a stall). */
  hung = 0;
  private readonly waiters: Array<{ beyond: number; resolve: () => void }> = [];

  constructor(private readonly faults: Fault[]) {}

  take(): Fault {
    return this.faults[this.next++] ?? "ok";
  }

  /** Stops injecting faults from now on. */
  stop(): void {
    this.next = this.faults.length;
  }

  /** Resolves once more than `count` calls have hung (crashed or stalled). */
  hungBeyond(count: number): Promise<void> {
    if (this.hung > count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ beyond: count, resolve }));
  }

  private hangs(): void {
    this.hung++;
    for (const w of this.waiters.filter((w) => this.hung > w.beyond)) w.resolve();
  }

  /** Applies `fault` around `apply`, then answers with `answer` (or the fault's replacement). */
  async run<T>(fault: Fault, apply: () => T, unknown: () => T | never, notSent?: () => T): Promise<T> {
    switch (fault) {
      case "ok":
        return apply();
      case "lost":
        apply();
        return unknown();
      case "dropped":
        return unknown();
      case "not_sent":
        return notSent ? notSent() : unknown();
      case "crash":
        return this.hang();
      case "crash_after":
        apply();
        return this.hang();
      case "stall":
        await new Promise<void>((resolve) => {
          this.stalled.push(resolve);
          this.hangs();
        });
        return apply();
    }
  }

  private hang(): Promise<never> {
    this.hangs();
    return new Promise<never>(() => {});
  }

  /** Lets every stalled call go on. */
  release(): void {
    for (const go of this.stalled.splice(0)) go();
  }
}

export interface Payload {
  /** What each participant is asked to take. */
  amount: number;
}

interface MemoryRecord {
  tx?: string;
  protocol?: TxProtocol;
  state?: TxRecord<Payload>["state"];
  reason?: string;
  lease?: number;
  owner?: string;
  paid: boolean;
  lastTx?: string;
  lastOutcome?: string;
  failures?: number;
  lastError?: string;
  parked?: boolean;
}

/** A storage call whose answer was lost: it may have been applied. */
export class LostAnswerError extends Error {}

/** The transaction log of commitTx/abortTx/finishAbortTx/settleTx/failedTx and tx_begin, for one subject kind. */
export class MemoryLog implements TxLog<Payload, "paid"> {
  readonly sweepGroups = 1;
  readonly records = new Map<string, MemoryRecord>();
  /** Every decision that took effect, by transaction: the invariant is at most one per transaction. */
  readonly decisions: Array<{ tx: string; decision: "commit" | "abort" }> = [];
  /** The log's clock: every call moves it on, so leases run out while drivers wait. */
  now = 0;

  constructor(
    private readonly plan: FaultPlan,
    private readonly amount: number,
  ) {}

  retryable(err: unknown): boolean {
    return err instanceof LostAnswerError;
  }

  private call<T>(apply: () => T): Promise<T> {
    this.now += 30;
    return this.plan.run(this.plan.take(), apply, () => {
      throw new LostAnswerError("injected");
    });
  }

  private record(subject: string): MemoryRecord {
    let r = this.records.get(subject);
    if (!r) this.records.set(subject, (r = { paid: false }));
    return r;
  }

  begin(subject: string, mode: BeginMode, start: { txId: string; protocol: TxProtocol }, lease: { ms: number; owner: string }): Promise<BeginResult<Payload, "paid">> {
    return this.call(() => {
      const r = this.record(subject);
      const drive = (): BeginResult<Payload, "paid"> => {
        r.lease = this.now + lease.ms;
        r.owner = lease.owner;
        return { kind: "drive", tx: { subject, id: r.tx!, protocol: r.protocol!, state: r.state!, reason: r.reason ?? "", payload: { amount: this.amount } } };
      };
      if (mode === "start" && r.tx === start.txId && r.owner === lease.owner) return drive();
      if (r.tx) {
        if (mode === "retry") return r.parked ? drive() : { kind: "busy", txId: r.tx };
        if (r.parked && r.state === "aborting" && mode !== "resume") return { kind: "parked", txId: r.tx };
        const live = r.lease! >= this.now;
        if (r.state === "committed") {
          if (mode === "watch") return { kind: "done", lastOutcome: "committed" };
          if (mode === "start" && live && r.paid) return { kind: "refused", reason: "paid" };
          if (live) return { kind: "busy", txId: r.tx };
        } else if (r.state === "trying" && live) {
          return { kind: "busy", txId: r.tx };
        }
        return drive();
      }
      if (mode !== "start" || r.lastTx === start.txId) return { kind: "done", lastOutcome: r.lastOutcome ?? "" };
      if (r.paid) return { kind: "refused", reason: "paid" };
      Object.assign(r, { tx: start.txId, protocol: start.protocol, state: "trying", reason: "" });
      return drive();
    });
  }

  check(subject: string): Promise<"paid" | undefined> {
    return this.call(() => (this.record(subject).paid ? "paid" : undefined));
  }

  private ended(r: MemoryRecord, tx: string): LogStatus {
    if (r.lastTx !== tx) return { kind: "unknown" };
    return r.lastOutcome === "committed" ? { kind: "committed" } : { kind: "aborted", reason: r.lastOutcome! };
  }

  commit(tx: TxRecord<Payload>): Promise<LogStatus> {
    return this.call(() => {
      const r = this.record(tx.subject);
      if (r.tx !== tx.id) return this.ended(r, tx.id);
      if (r.state === "aborting") return { kind: "aborting", reason: r.reason! };
      if (r.state === "trying") {
        Object.assign(r, { state: "committed", lastTx: tx.id, lastOutcome: "committed", paid: true });
        this.decisions.push({ tx: tx.id, decision: "commit" });
      }
      return { kind: "committed" };
    });
  }

  abort(tx: TxRecord<Payload>, reason: string): Promise<LogStatus> {
    return this.call(() => {
      const r = this.record(tx.subject);
      if (r.tx !== tx.id) return this.ended(r, tx.id);
      if (r.state === "committed") return { kind: "committed" };
      if (r.state === "aborting") return { kind: "aborting", reason: r.reason! };
      Object.assign(r, { state: "aborting", reason });
      this.decisions.push({ tx: tx.id, decision: "abort" });
      return { kind: "aborting", reason };
    });
  }

  private close(r: MemoryRecord): void {
    for (const field of ["tx", "protocol", "state", "reason", "lease", "owner", "failures", "lastError", "parked"] as const) delete r[field];
  }

  finishAbort(tx: TxRecord<Payload>): Promise<LogStatus> {
    return this.call(() => {
      const r = this.record(tx.subject);
      if (r.tx !== tx.id) return this.ended(r, tx.id);
      if (r.state === "committed") return { kind: "committed" };
      if (r.state !== "aborting") return { kind: "aborting", reason: "" };
      const reason = r.reason!;
      Object.assign(r, { lastTx: tx.id, lastOutcome: reason });
      this.close(r);
      return { kind: "aborted", reason };
    });
  }

  settle(txs: Array<TxRecord<Payload>>): Promise<void> {
    return this.call(() => {
      for (const tx of txs) {
        const r = this.record(tx.subject);
        if (r.tx === tx.id && r.state === "committed") this.close(r);
      }
    });
  }

  expired(): Promise<string[]> {
    return this.call(() => [...this.records].filter(([, r]) => r.tx && r.lease! < this.now).map(([subject]) => subject));
  }

  failed(tx: TxRecord<Payload>, outcomes: string, park: boolean, retryMs: number): Promise<"open" | "parked" | "unknown"> {
    return this.call(() => {
      const r = this.record(tx.subject);
      if (r.tx !== tx.id || r.state === "trying") return "unknown";
      Object.assign(r, { failures: (r.failures ?? 0) + 1, lastError: outcomes });
      if (!park) return "open";
      Object.assign(r, { parked: true, lease: this.now + retryMs, owner: "parked" });
      return "parked";
    });
  }

  renew(tx: TxRecord<Payload>, lease: { ms: number; owner: string }): Promise<boolean> {
    return this.call(() => {
      const r = this.record(tx.subject);
      if (r.tx !== tx.id || r.owner !== lease.owner) return false;
      r.lease = this.now + lease.ms;
      return true;
    });
  }

  list(_group: number, limit: number, which: "open" | "parked"): Promise<string[]> {
    return this.call(() => this.open().filter((subject) => which === "open" || this.records.get(subject)!.parked).slice(0, limit));
  }

  inspect(subject: string): Promise<TxSnapshot | undefined> {
    return this.call(() => {
      const r = this.record(subject);
      if (!r.tx) return undefined;
      return {
        subject,
        id: r.tx,
        protocol: r.protocol!,
        state: r.state!,
        reason: r.reason ?? "",
        leaseEnd: r.lease!,
        owner: r.owner!,
        parked: r.parked ?? false,
        failures: r.failures ?? 0,
        lastError: r.lastError ?? "",
      };
    });
  }

  /** Subjects with an open record. */
  open(): string[] {
    return [...this.records].filter(([, r]) => r.tx).map(([subject]) => subject);
  }
}

/** One participant with the marker protocol of orchestrator/participant.ts, in memory. */
export class MemoryParticipant {
  available: number;
  /** Set aside by 2PC prepares, not yet spent. */
  held = 0;
  readonly markers = new Map<string, string>();
  /** Transactions confirmed here (marker "c"). */
  readonly confirmed = new Set<string>();
  /** What happened, in order: the invariant checks read it. */
  readonly events: Array<{ tx: string; event: "take" | "give_back" | "cancel" | "confirm" }> = [];

  constructor(
    readonly name: string,
    readonly initial: number,
  ) {
    this.available = initial;
  }

  try(protocol: TxProtocol, tx: string, amount: number): CallOutcome {
    const seen = this.markers.get(tx);
    if (seen !== undefined) {
      if (seen === "c" || /^\d+$/.test(seen)) return { kind: "done" };
      return { kind: "refused", reason: seen.slice(2) || "compensated" };
    }
    if (this.available < amount) {
      this.markers.set(tx, "x:insufficient");
      return { kind: "refused", reason: "insufficient" };
    }
    // A try of nothing takes nothing and writes nothing.
    if (amount === 0) return { kind: "done" };
    this.available -= amount;
    if (protocol === "2pc") this.held += amount;
    this.markers.set(tx, String(amount));
    this.events.push({ tx, event: "take" });
    return { kind: "done" };
  }

  cancel(protocol: TxProtocol, tx: string, amount: number): CallOutcome {
    const marker = this.markers.get(tx);
    // A confirm is final: the cancel changes nothing and says so.
    if (marker === "c") return { kind: "refused", reason: "confirmed" };
    if (marker === undefined && amount === 0) return { kind: "done" };
    if (marker !== undefined && /^\d+$/.test(marker)) {
      const amount = Number(marker);
      this.available += amount;
      if (protocol === "2pc") this.held -= amount;
      this.events.push({ tx, event: "give_back" });
    }
    if (marker === undefined || /^\d+$/.test(marker)) this.markers.set(tx, "x");
    this.events.push({ tx, event: "cancel" });
    return { kind: "done" };
  }

  confirm(protocol: TxProtocol, tx: string): void {
    const marker = this.markers.get(tx);
    if (marker === undefined || !/^\d+$/.test(marker)) return;
    if (protocol === "2pc") this.held -= Number(marker);
    this.markers.set(tx, "c");
    this.confirmed.add(tx);
    this.events.push({ tx, event: "confirm" });
  }
}

/** No answer from one attempt: retried, as the HTTP transport retries a call without an answer. */
class NoAnswer extends Error {}

/**
 * The transport to in-memory participants, every attempt through the fault plan, retried by the
 * policy as http/transport.ts retries. As there, only a try can be not sent (an open breaker holds
 * back tries only); a cancel that draws `not_sent` is a dropped one.
 */
export class MemoryTransport implements Transport {
  constructor(
    private readonly plan: FaultPlan,
    readonly participants: Map<string, MemoryParticipant>,
  ) {}

  send(participant: string, protocol: TxProtocol, phase: Exclude<Phase, "confirm">, body: object, policy: RetryPolicy, _ctx: unknown, until?: number): Promise<CallOutcome> {
    const p = this.participants.get(participant)!;
    const { tx, amount } = body as { tx: string; amount: number };
    const attempt = (n: number) =>
      this.plan.run<CallOutcome>(
        this.plan.take(),
        () => (phase === "try" ? p.try(protocol, tx, amount) : p.cancel(protocol, tx, amount)),
        () => {
          throw new NoAnswer();
        },
        // A breaker that opens after an attempt went out makes the outcome unknown, not "not sent".
        () => {
          if (phase === "try" && n === 1) return { kind: "not_sent" };
          throw new NoAnswer();
        },
      );
    return withRetries(policy, attempt, (err) => err instanceof NoAnswer, { until }).catch(() => ({ kind: "unknown" }) as const);
  }

  async confirm(participant: string, protocol: TxProtocol, bodies: object[]): Promise<boolean> {
    const p = this.participants.get(participant)!;
    const outcome = await this.plan.run<CallOutcome>(
      this.plan.take(),
      () => {
        for (const { tx } of bodies as Array<{ tx: string }>) p.confirm(protocol, tx);
        return { kind: "done" };
      },
      () => ({ kind: "unknown" }),
      () => ({ kind: "not_sent" }),
    );
    return outcome.kind === "done";
  }

  failingFast(): undefined {
    return undefined;
  }
}
