// The engine's storage: the durable transaction record, one per subject (e.g. an order), written
// before any participant is called. Every change is one compare-and-set on it, so exactly one
// decision wins whoever drives. One implementation today: redis-log.ts (scripts on the subject's
// shard); the property tests use an in-memory one (testing/fakes.ts).
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
  | "resume";

export type BeginResult<Payload, Refusal extends string> =
  | { kind: "drive"; tx: TxRecord<Payload> }
  | { kind: "busy"; txId: string }
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
}
