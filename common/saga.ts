// The wire contract between the order service (saga coordinator) and its participants. Internal
// routes live under /internal/, which no gateway exposes.
import { z } from "zod";
import { id, MAX_VALUE } from "./params.js";

export const INTERNAL_PREFIX = "/internal/";

export const sagaRoutes = {
  reserveStock: "/internal/stock/reserve",
  releaseStock: "/internal/stock/release",
  chargeCredit: "/internal/payment/charge",
  refundCredit: "/internal/payment/refund",
} as const;

/**
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
export type RefusalReason = "insufficient_stock" | "insufficient_credit" | "unknown_item" | "unknown_user" | "compensated";
