// The participant side of the engine: what a service that takes part in transactions answers for
// each phase, and the marker protocol that makes every phase idempotent and cancel final. A
// participant author reads this file first, then protocol.ts; redis/ has the marker scripts'
// shared Lua, http/ serves the phases.
import type { TxProtocol } from "./protocol.js";

/*
 * The marker protocol. A participant keeps, for each transaction and each entity it touches, one
 * marker key `<entity key>:tx:<tx>` in the entity's slot, written by the same script that changes
 * the entity. Its value is "<protocol>:<state>" (the protocol whose phase wrote it), the state:
 *
 *   "<n>"          held: the try took n (units of stock, credit); without an expiry while the
 *                  transaction is undecided, since a cancel must still find it however late it
 *                  comes
 *   "c"            confirmed: what the try took stays taken (a 2PC commit spends what it held)
 *   "x"            cancelled: the cancel gave back what the try took (or came first)
 *   "x:<reason>"   refused: the try took nothing, for <reason>
 *
 * Confirm and cancel are each final, and at most one of them takes effect: a cancel that finds
 * "c" changes nothing and answers `{'refused', 'confirmed'}`, a confirm that finds "x" changes
 * nothing. A try that finds a marker answers as the first call did ("<n>" or "c": done; "x":
 * refused `compensated`; "x:<reason>": refused <reason>), so a replay never applies twice. A
 * cancel that finds no marker writes "x", so a try arriving after it is refused. A phase never
 * acts on the other protocol's marker (refused `other_protocol`, nothing changed), and a phase for
 * nothing (no items, an amount of 0) writes nothing.
 *
 * Bounded state. A transaction id is a UUIDv7, so it carries its creation time, and a participant
 * accepts a try only within the window (`windowMs`, by the participant's own clock; see
 * `redis/lua/includes/txMarker.lua`). The markers that hold nothing ("c", "x", "x:<reason>") are there
 * only to answer or refuse a try, so they expire once no try can be accepted any more, plus one
 * more window: what a finished transaction leaves behind lives two windows (a minute by default).
 */

/** Refusals every participant may answer, whatever its own reasons. */
export const PROTOCOL_REFUSALS = [
  /** The transaction was cancelled here already (or the cancel came first). */
  "compensated",
  /** The id's time is not within the window of this participant's clock: too late to take part. */
  "expired",
  /** The transaction's marker here was written by the other protocol's phases: never acted on. */
  "other_protocol",
] as const;
export type ProtocolRefusal = (typeof PROTOCOL_REFUSALS)[number];

/**
 * A try's answer. 200 `done`: applied (or already applied). 409 `refused`: not applied and never
 * will be for this transaction, so it needs no cancel. Anything else, or no answer at all, means
 * the outcome is unknown and the coordinator must cancel.
 */
export type TryReply<Reason extends string = string> = { status: "done" } | { status: "refused"; reason: Reason };

/** Why a cancel changed nothing: the transaction is confirmed here, or its marker is the other protocol's. */
export const CANCEL_REFUSALS = ["confirmed", "other_protocol"] as const;

/** A cancel that found its transaction final the other way: nothing changed, and it never will. */
export class CancelRefusedError extends Error {
  constructor(readonly reason: (typeof CANCEL_REFUSALS)[number]) {
    super(`cancel refused: ${reason}`);
  }
}

/** What one protocol's phases do at a participant. `Body` is the participant's part of a transaction. */
export interface PhaseHandlers<Body, Reason extends string> {
  try(part: { tx: string } & Body): Promise<TryReply<Reason>>;
  cancel(part: { tx: string } & Body): Promise<unknown>;
  /** Many transactions at once: the coordinator batches confirmations, which nobody waits for. */
  confirm(parts: Array<{ tx: string } & Body>): Promise<unknown>;
}

/** The most transactions one confirm call carries. */
export const MAX_CONFIRM_BATCH = 500;

/**
 * The most transactions one batched try or cancel carries: under 64 connections 12 % of batches
 * reached 33-64, and 64 tries of two-item orders are a 3 KB body (the shop's BENCHMARKS.md, issue 14).
 */
export const MAX_PHASE_BATCH = 64;

/**
 * One transaction's part of a batched answer: as the single route would answer it, `invalid`
 * when its own body is malformed (the single route's 400: nothing was run for it), or `unknown`
 * when its own script failed. The others' still count.
 */
export type BatchResult = TryReply | { status: "invalid"; error: string } | { status: "unknown" };


/** What every protocol's phases do at a participant. */
export type ParticipantHandlers<Body, Reason extends string> = Record<TxProtocol, PhaseHandlers<Body, Reason>>;
