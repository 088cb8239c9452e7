// The checkout, as a transaction for the orchestrator: its participants, what each is sent, and
// why each may refuse. Everything about running it (protocols, leases, retries, recovery) is the
// engine's; what the outcomes answer is outcomes.ts.
import { PARTICIPANT_REFUSALS, paymentPart, stockPart, type PaymentPart, type PaymentRefusal, type StockPart, type StockRefusal } from "../common/contract.js";
import { faultPoints, type TransactionDefinition, type TxOutcome } from "@shardshop/orchestrator";
import type { CheckoutPayload, CheckoutRefusal } from "./store.js";

export type CheckoutParticipantRefusal = StockRefusal | PaymentRefusal;

export const checkoutTransaction: TransactionDefinition<CheckoutPayload, CheckoutParticipantRefusal> = {
  // Stock first: when both refuse, stock's reason is the one reported.
  participants: [
    ["stock", (order): StockPart => ({ items: order.items }), stockPart],
    ["payment", (order): PaymentPart => ({ user_id: order.userId, amount: order.total }), paymentPart],
  ],
  refusals: [...PARTICIPANT_REFUSALS.stock, ...PARTICIPANT_REFUSALS.payment],
};

export type CheckoutOutcome = TxOutcome<CheckoutRefusal, CheckoutParticipantRefusal>;

/** Test-only places where the order process kills itself (SIGKILL) mid-checkout. */
export const FAULT_POINTS = faultPoints(checkoutTransaction.participants.map(([name]) => name));
