// The contract between the order service (saga coordinator) and its participants: the internal
// routes, their bodies and answers, and the marker protocol that makes every step idempotent and
// every compensation final. A participant author reads this file first.
import { z } from "zod";
import { id, MAX_VALUE } from "./params.js";
import type { ScriptReply } from "./redis.js";

/**
 * Internal routes live under this prefix, which no gateway routes. They must be added with
 * `ServiceApp.serve`: it refuses proxied calls and bounds bodies, and a service with an internal
 * route added any other way refuses to boot (`ServiceApp.assertInternalRoutesGuarded`).
 */
export const INTERNAL_PREFIX = "/internal/";

export const sagaRoutes = {
  reserveStock: "/internal/stock/reserve",
  releaseStock: "/internal/stock/release",
  chargeCredit: "/internal/payment/charge",
  refundCredit: "/internal/payment/refund",
} as const;

/**
 * The marker protocol. A participant keeps, for each transaction and each entity it touches, one
 * marker key `<entity key>:tx:<tx>` in the entity's slot, written by the same script that changes
 * the entity:
 *
 *   "<n>"          held: the step took n (units of stock, or credit); a compensation gives them back
 *   "x"            compensated: the compensation ran (or came first); final
 *   "x:<reason>"   refused: the step took nothing, for <reason>; final
 *
 * A step that finds a marker answers as the first call did (held: done; "x": refused
 * `compensated`; "x:<reason>": refused <reason>), so a replay never applies twice. A compensation
 * that finds no marker writes "x", so a step arriving after it is refused; it keeps a refusal's
 * marker as it is. Scripts: stock's reserveStock/releaseStock, payment's chargeCredit/refundCredit.
 *
 * How long participants remember a transaction. Replays and compensations only ever arrive within
 * the order service's lease and retry windows (seconds), so a week is far beyond any of them.
 */
export const TX_MARKER_TTL_SECONDS = 7 * 24 * 3600;

const count = (min: number) => z.number().int().min(min).max(MAX_VALUE);

export const stockStepBody = z.object({
  tx: id,
  items: z
    .array(z.tuple([id, count(1)]))
    .min(1)
    .max(1000)
    .refine((items) => new Set(items.map(([item]) => item)).size === items.length, "items must be distinct"),
});
export type StockStep = z.infer<typeof stockStepBody>;

export const chargeBody = z.object({ tx: id, user_id: id, amount: count(0) });
export type Charge = z.infer<typeof chargeBody>;

export const refundBody = z.object({ tx: id, user_id: id });
export type Refund = z.infer<typeof refundBody>;

/**
 * A step's answer. 200 `done`: applied (or already applied). 409 `refused`: not applied and never
 * will be for this transaction, so it needs no compensation. Anything else, or no answer at all,
 * means the outcome is unknown and the coordinator must compensate.
 */
export type StepReply = { status: "done" } | { status: "refused"; reason: RefusalReason };

export const REFUSAL_REASONS = ["insufficient_stock", "insufficient_credit", "unknown_item", "unknown_user", "compensated"] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A script's reply that this code does not know: a script and its store disagree, so fail loudly. */
export class UnexpectedReplyError extends Error {
  constructor(script: string, reply: ScriptReply) {
    super(`${script} replied ${JSON.stringify(reply)}, which is not in its contract`);
  }
}

/**
 * Decodes a step script's reply: `{done}` (the script's own word for it, e.g. 'reserved') or
 * `{'refused', reason}`. Anything else throws, so the coordinator sees an unknown outcome and
 * compensates, and the error is logged.
 */
export function decodeStep(script: string, done: string, reply: ScriptReply): StepReply {
  const [status, reason] = Array.isArray(reply) ? reply : [];
  if (status === done && (reply as ScriptReply[]).length === 1) return { status: "done" };
  if (status === "refused" && REFUSAL_REASONS.includes(reason as RefusalReason)) return { status: "refused", reason: reason as RefusalReason };
  throw new UnexpectedReplyError(script, reply);
}

/** Decodes a compensation script's reply, `{done, amount returned by this call}`; anything else throws. */
export function decodeCompensation(script: string, done: string, reply: ScriptReply): number {
  const [status, returned] = Array.isArray(reply) ? reply : [];
  if (status === done && typeof returned === "number") return returned;
  throw new UnexpectedReplyError(script, reply);
}
