// The order service's reads from stock and payment, outside any transaction (does this user
// exist, what does this item cost): retried by the engine's unknown-outcome policy, never through
// a breaker (see HttpParticipant.read).
import { HTTPException } from "hono/http-exception";
import type { HttpParticipant } from "@shardshop/orchestrator/http";
import type { RetryPolicy } from "@shardshop/orchestrator";
import type { RequestContext } from "../common/tracing.js";

const unavailable = (service: string) =>
  new HTTPException(503, { message: `${service} service unavailable; nothing was changed` });

export class Participants {
  constructor(
    readonly stock: HttpParticipant,
    readonly payment: HttpParticipant,
    private readonly policy: RetryPolicy,
  ) {}

  /** The item's price, null if it does not exist; throws a 503 if stock cannot tell. */
  async itemPrice(itemId: string, ctx: RequestContext): Promise<number | null> {
    const reply = await this.stock.read<{ price: number }>(`/stock/find/${itemId}`, this.policy, ctx).catch(() => null);
    if (reply?.status === 404) return null;
    if (reply?.status !== 200) throw unavailable("stock");
    return reply.body.price;
  }

  /** Whether the user exists; throws a 503 if payment cannot tell. */
  async userExists(userId: string, ctx: RequestContext): Promise<boolean> {
    const reply = await this.payment.read(`/payment/find_user/${userId}`, this.policy, ctx).catch(() => null);
    if (reply?.status === 404) return false;
    if (reply?.status !== 200) throw unavailable("payment");
    return true;
  }
}
