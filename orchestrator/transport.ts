// The engine's transport: how a phase reaches a participant. Implementations: http/transport.ts (a
// client per participant, a breaker each, tries batched), local-transport.ts (in process), and
// testing/fakes.ts (scripted faults, for property tests).
import type { TxContext } from "./context.js";
import type { TxRecord } from "./log.js";
import type { Phase, TxProtocol } from "./protocol.js";
import type { RetryPolicy } from "./retry.js";

/**
 * What a try or cancel came to: done, refused (final, holds nothing), invalid (the participant
 * rejected the call itself, as malformed or too large: final, nothing applied, and the same call
 * will always be rejected), unknown (no clear answer: it may have been applied), or not sent at
 * all (the participant's breaker is open).
 */
export type CallOutcome =
  | { kind: "done" }
  | { kind: "refused"; reason: string }
  | { kind: "invalid"; error: string }
  | { kind: "unknown" }
  | { kind: "not_sent" };

export interface Transport {
  /** One try or cancel to one participant, retried by `policy` (until `until`, when given); never throws. */
  send(participant: string, protocol: TxProtocol, phase: Exclude<Phase, "confirm">, body: object, policy: RetryPolicy, ctx: TxContext, until?: number): Promise<CallOutcome>;
  /** Confirms of many transactions to one participant; true once it acknowledged them all. */
  confirm(participant: string, protocol: TxProtocol, bodies: object[], policy: RetryPolicy, ctx: TxContext): Promise<boolean>;
  /**
   * A participant that refuses new work now (its breaker is open), with seconds to wait; undefined
   * if none. The breaker holds back tries only: a cancel or confirm settles work already sent.
   */
  failingFast(): { participant: string; retryAfter: number } | undefined;
}

/** What a participant accepts as its part (a zod schema fits): the engine never sends a part it would reject. */
export interface PartSchema {
  safeParse(value: unknown): { success: true } | { success: false; error: { message: string } };
}

/** A participant of a transaction: its name, its part made from the payload, and the schema it checks the part against. */
export type ParticipantDefinition<Payload> = readonly [name: string, part: (payload: Payload) => object, schema?: PartSchema];

/**
 * What a participant is sent for a phase: the transaction id and its part. Object.assign rather than
 * a spread, which V8 copies many times slower, on the checkout path.
 */
export function phaseBody<Payload>(tx: TxRecord<Payload>, part: (payload: Payload) => object): object {
  return Object.assign({ tx: tx.id }, part(tx.payload));
}
