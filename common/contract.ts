// The checkout transaction's contract between the order service (which coordinates it through the
// orchestrator) and its participants: each participant's part of a transaction, and the reasons
// it may refuse one. How the parts travel and what the markers mean is the orchestrator's
// (orchestrator/participant.ts); what is in them is the shop's, and lives here.
import { z } from "zod";
import { id, MAX_VALUE } from "./params.js";

const count = (min: number) => z.number().int().min(min).max(MAX_VALUE);

/** Stock's part: units of distinct items. */
export const stockPart = z.object({
  items: z
    .array(z.tuple([id, count(1)]))
    .min(1)
    .max(1000)
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
