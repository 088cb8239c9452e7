// The engine's storage: the durable transaction record, one per subject (e.g. an order), written
// before any participant is called. Every change is one compare-and-set on it, so exactly one
// decision wins whoever drives. Implementations: redis/log.ts (scripts on the subject's
// partition) and testing/fakes.ts (in memory, for property tests); testing/conformance.ts is the
// contract both pass.
import type { TxProtocol } from "./protocol.js";

/** A transaction as its driver sees it after taking the lease. */
export interface TxRecord<Payload> {
  /** What the transaction is about: the record's key, e.g. an order id. */
  subject: string;
  id: string;
  protocol: TxProtocol;
  /** trying: no decision yet; aborting: abort decided, cancels may be due; committed: confirms may be due. */
  state: "trying" | "aborting" | "committed";
  /** Why it aborts; empty otherwise. */
  reason: string;
  /** The subject's snapshot taken when the transaction began: what each participant's part is made of. */
  payload: Payload;
}

export type BeginMode =
  /** A request to run the subject's transaction: starts one unless one runs. */
  | "start"
  /** Waiting on a running transaction: drive it if its lease ran out. */
  | "watch"
  /** The recovery sweep: drive it if its lease ran out. */
  | "resume"
  /** An operator: drive a parked one now, whatever its lease. */
  | "retry";

export type BeginResult<Payload, Refusal extends string> =
  | { kind: "drive"; tx: TxRecord<Payload> }
  | { kind: "busy"; txId: string }
  /** Its abort is parked: it kept failing past the park bound, and waits for the sweep's next try or an operator. */
  | { kind: "parked"; txId: string }
  /** The subject says no (start mode), e.g. the order is already paid; nothing was written. */
  | { kind: "refused"; reason: Refusal }
  /** No transaction runs (watch, resume): the last one ended with this outcome ('committed' or an abort reason, '' if none). */
  | { kind: "done"; lastOutcome: string };

/** What a decision or close write found. */
export type LogStatus =
  | { kind: "committed" }
  | { kind: "aborting"; reason: string }
  /** Aborted and closed: every cancel was confirmed. */
  | { kind: "aborted"; reason: string }
  /** The record holds another transaction now: this one is long over; ask the subject. */
  | { kind: "unknown" };

export interface TxLog<Payload, Refusal extends string> {
  /** Groups of partitions the recovery sweep reads one at a time: the shards, or ranges of a cluster's slots. */
  readonly sweepGroups: number;
  /**
   * Whether a call that failed with `err` may be made again: the storage did not answer (it may
   * have run: every write here is idempotent) or refused it unrun. Anything else is a bug, thrown.
   */
  retryable(err: unknown): boolean;
  begin(subject: string, mode: BeginMode, start: { txId: string; protocol: TxProtocol }, lease: { ms: number; owner: string }): Promise<BeginResult<Payload, Refusal>>;
  /** Whether the subject would refuse a start, without writing anything. */
  check(subject: string): Promise<Refusal | undefined>;
  /** The commit point: wins unless an abort was decided first. */
  commit(tx: TxRecord<Payload>): Promise<LogStatus>;
  /** The abort decision: wins unless the commit came first; the first reason stays. */
  abort(tx: TxRecord<Payload>, reason: string): Promise<LogStatus>;
  /** Closes an aborting record once every cancel was confirmed. */
  finishAbort(tx: TxRecord<Payload>): Promise<LogStatus>;
  /** Closes committed records once every participant confirmed them. */
  settle(txs: Array<TxRecord<Payload>>): Promise<void>;
  /** Subjects in one sweep group whose transaction's lease ran out. */
  expired(group: number, limit: number): Promise<string[]>;
  /**
   * A drive ended with the transaction still open (a cancel or confirm not applied): counts it
   * and keeps what the participants answered; with `park`, it is parked, retried by the sweep only
   * after `retryMs`. Says what the record is now.
   */
  failed(tx: TxRecord<Payload>, outcomes: string, park: boolean, retryMs: number): Promise<"open" | "parked" | "unknown">;
  /** Extends the lease on `tx` while `owner` still holds it; false once it does not (taken over, or ended). */
  renew(tx: TxRecord<Payload>, lease: { ms: number; owner: string }): Promise<boolean>;
  /** Subjects in one sweep group with an open record (any lease), or only the parked ones. */
  list(group: number, limit: number, which: "open" | "parked"): Promise<string[]>;
  /** The subject's open record as an operator sees it; undefined when none is open. */
  inspect(subject: string): Promise<TxSnapshot | undefined>;
}

/** An open transaction record, for an operator. */
export interface TxSnapshot {
  subject: string;
  id: string;
  protocol: TxProtocol;
  state: TxRecord<unknown>["state"];
  reason: string;
  /** Lease end, ms since the epoch by the record shard's clock; a parked one's is its next retry. */
  leaseEnd: number;
  owner: string;
  parked: boolean;
  /** Drives that ended with it still open, and the participants' outcomes in the last one. */
  failures: number;
  lastError: string;
}
