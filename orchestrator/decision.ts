// The engine's decisions, as pure functions of what the participants answered: unit-tested beside
// this file and exercised by the property tests.
import type { CallOutcome } from "./transport.js";

/** The engine's own abort reason: a participant could not be reached, or could not say. */
export const UNAVAILABLE = "unavailable";

/** The engine's abort reason for a part a participant rejects as malformed or too large: final, nothing applied. */
export const INVALID = "invalid";

/** The abort reason of a transaction past its window: the participants refuse its tries (ProtocolRefusal). */
export const EXPIRED = "expired";

/** Abort reasons of the engine's, besides each participant's refusals. */
export const ENGINE_ABORT_REASONS = [UNAVAILABLE, INVALID, EXPIRED] as const;
export type EngineAbortReason = (typeof ENGINE_ABORT_REASONS)[number];

export type Verdict<P extends string> =
  | { decision: "commit" }
  /**
   * `cancel`: the participants that need a cancel. `mayHold`: those among them that got this
   * driver's try (or may have), whose cancel the answer waits for.
   */
  | { decision: "abort"; reason: string; cancel: P[]; mayHold: P[] };

/**
 * Commit if and only if every participant's try is done. Otherwise abort, for the first refusal's
 * reason (in the definition's order of participants; a rejected part's is `invalid`) or, with
 * none, because a participant was unavailable. A refusal or a rejection is final and holds
 * nothing: only the others need cancelling. That includes
 * a try this driver never sent: an earlier driver's try of the same transaction may still be on its
 * way, and only a cancel makes the participant refuse it (found by the property tests). But nothing
 * of this driver's is held there, so the answer need not wait for that cancel.
 */
export function verdict<P extends string>(participants: readonly P[], outcomes: readonly CallOutcome[]): Verdict<P> {
  if (outcomes.every((o) => o.kind === "done")) return { decision: "commit" };
  // "compensated" says only that a cancel came first, which the reason of that abort already told.
  const refusal = outcomes.find((o) => (o.kind === "refused" && o.reason !== "compensated") || o.kind === "invalid");
  return {
    decision: "abort",
    reason: refusal?.kind === "refused" ? refusal.reason : refusal?.kind === "invalid" ? INVALID : UNAVAILABLE,
    cancel: participants.filter((_, i) => outcomes[i]!.kind !== "refused" && outcomes[i]!.kind !== "invalid"),
    mayHold: participants.filter((_, i) => outcomes[i]!.kind === "done" || outcomes[i]!.kind === "unknown"),
  };
}
