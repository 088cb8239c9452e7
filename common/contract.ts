// The checkout transaction's contract between the order service (which coordinates it through the
// orchestrator) and its participants: each participant's part of a transaction, and the reasons
// it may refuse one. How the parts travel and what the markers mean is the orchestrator's
// (orchestrator/participant.ts); what is in them is the shop's, and lives here.
import { z } from "zod";
import { id, MAX_VALUE } from "./params.js";

const count = (min: number) => z.number().int().min(min).max(MAX_VALUE);

/**
 * The most lines (distinct items) one order may hold: what stock accepts in one transaction's
 * part, and so what the order service lets an order grow to (at addItem) and start a checkout
 * with. The other limits a part must meet are the order's own already: a quantity and a total
 * are at most MAX_VALUE (addItem refuses more), ids are `id`s (the routes' parameters).
 */
export const MAX_ORDER_LINES = 1000;

/** Stock's part: units of distinct items. */
export const stockPart = z.object({
  items: z
    .array(z.tuple([id, count(1)]))
    .min(1)
    .max(MAX_ORDER_LINES)
    .refine((items) => new Set(items.map(([item]) => item)).size === items.length, "items must be distinct"),
});
export type StockPart = z.infer<typeof stockPart>;

/** Payment's part: an amount of a user's credit. */
export const paymentPart = z.object({ user_id: id, amount: count(0) });
export type PaymentPart = z.infer<typeof paymentPart>;

/** Why each participant may refuse its part, besides the protocol's own refusals. */
export const PARTICIPANT_REFUSALS = {
  stock: ["insufficient_stock", "unknown_item"],
  payment: ["insufficient_credit", "unknown_user"],
} as const;

export type StockRefusal = (typeof PARTICIPANT_REFUSALS.stock)[number];
export type PaymentRefusal = (typeof PARTICIPANT_REFUSALS.payment)[number];
