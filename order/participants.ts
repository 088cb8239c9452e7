// The order service's calls to stock and payment. Saga calls never throw: a step is done, refused
// (final, holds nothing), or unknown (no clear answer: it may have been applied).
import { HTTPException } from "hono/http-exception";
import type { ServiceClient } from "../common/http.js";
import { sagaRoutes, type RefusalReason, type StepReply } from "../common/saga.js";
import type { Transaction } from "./store.js";

export type StepOutcome = { kind: "done" } | { kind: "refused"; reason: RefusalReason } | { kind: "unknown" };

const unavailable = (service: string) =>
  new HTTPException(503, { message: `${service} service unavailable; nothing was changed` });

export class Participants {
  constructor(
    private readonly stock: ServiceClient,
    private readonly payment: ServiceClient,
  ) {}

  reserveStock(tx: Transaction): Promise<StepOutcome> {
    return step(this.stock.post<StepReply>(sagaRoutes.reserveStock, { tx: tx.id, items: tx.items }));
  }

  chargeCredit(tx: Transaction): Promise<StepOutcome> {
    return step(this.payment.post<StepReply>(sagaRoutes.chargeCredit, { tx: tx.id, user_id: tx.userId, amount: tx.total }));
  }

  /** Compensations: true once the participant confirmed. */
  async releaseStock(tx: Transaction): Promise<boolean> {
    return (await step(this.stock.post<StepReply>(sagaRoutes.releaseStock, { tx: tx.id, items: tx.items }))).kind === "done";
  }

  async refundCredit(tx: Transaction): Promise<boolean> {
    return (await step(this.payment.post<StepReply>(sagaRoutes.refundCredit, { tx: tx.id, user_id: tx.userId }))).kind === "done";
  }

  /** The item's price, null if it does not exist; throws a 503 if stock cannot tell. */
  async itemPrice(itemId: string): Promise<number | null> {
    const reply = await this.stock.get<{ price: number }>(`/stock/find/${itemId}`).catch(() => null);
    if (reply?.status === 404) return null;
    if (reply?.status !== 200) throw unavailable("stock");
    return reply.body.price;
  }

  /** Whether the user exists; throws a 503 if payment cannot tell. */
  async userExists(userId: string): Promise<boolean> {
    const reply = await this.payment.get(`/payment/find_user/${userId}`).catch(() => null);
    if (reply?.status === 404) return false;
    if (reply?.status !== 200) throw unavailable("payment");
    return true;
  }
}

async function step(call: Promise<{ status: number; body: StepReply }>): Promise<StepOutcome> {
  try {
    const { status, body } = await call;
    if (status === 200 && body?.status === "done") return { kind: "done" };
    if (status === 409 && body?.status === "refused") return { kind: "refused", reason: body.reason };
    return { kind: "unknown" };
  } catch {
    return { kind: "unknown" };
  }
}
