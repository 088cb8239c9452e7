// Decoding a participant's phase scripts' replies: every phase script answers `{'done'}` (a try),
// `{'done', amount}` (a cancel or a confirm: what this call gave back or spent) or
// `{'refused', reason}`. Anything else is a script and its caller disagreeing, and fails loudly.
import { CANCEL_REFUSALS, CancelRefusedError, type TryReply } from "../participant.js";
import type { ScriptReply } from "./host.js";

/** The word every phase script says done with, as the participant's HTTP answer does. */
export const DONE = "done";

/** A script's reply that this code does not know: a script and its store disagree, so fail loudly. */
export class UnexpectedReplyError extends Error {
  constructor(script: string, reply: ScriptReply) {
    super(`${script} replied ${JSON.stringify(reply)}, which is not in its contract`);
  }
}

/**
 * Decodes a try script's reply: `{'done'}` or `{'refused', reason}` with a reason from `reasons`.
 * Anything else throws, so the coordinator sees an unknown outcome and cancels, and the error is
 * logged.
 */
export function decodeTry<Reason extends string>(script: string, reasons: readonly Reason[], reply: ScriptReply): TryReply<Reason> {
  const [status, reason] = Array.isArray(reply) ? reply : [];
  if (status === DONE && (reply as ScriptReply[]).length === 1) return { status: "done" };
  if (status === "refused" && reasons.includes(reason as Reason)) return { status: "refused", reason: reason as Reason };
  throw new UnexpectedReplyError(script, reply);
}

/**
 * Decodes a cancel or confirm script's reply, `{'done', amount this call returned or spent}`; a
 * cancel's `{'refused', reason}` throws CancelRefusedError, anything else UnexpectedReplyError.
 */
export function decodeSettlement(script: string, reply: ScriptReply): number {
  const [status, value] = Array.isArray(reply) ? reply : [];
  if (status === DONE && typeof value === "number" && (reply as ScriptReply[]).length === 2) return value;
  if (status === "refused" && (CANCEL_REFUSALS as readonly unknown[]).includes(value)) throw new CancelRefusedError(value as (typeof CANCEL_REFUSALS)[number]);
  throw new UnexpectedReplyError(script, reply);
}
