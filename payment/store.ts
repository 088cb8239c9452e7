// Every Redis call of the payment service. A user's credit is the string `user:{id}`; saga markers
// `user:{id}:tx:<tx>` and order payments `user:{id}:order:<order>` share the user's slot.
import type { BaseConfig } from "../common/config.js";
import { newId, sequentialIds } from "../common/ids.js";
import { MAX_VALUE } from "../common/params.js";
import { loadLuaScripts, Shards, type ScriptReply } from "../common/redis.js";
import { decodeCompensation, decodeStep, TX_MARKER_TTL_SECONDS, type StepReply } from "../common/saga.js";

const SCRIPTS = [
  "createUser",
  "batchInitUsers",
  "addFunds",
  "pay",
  "cancelOrderPayment",
  "chargeCredit",
  "refundCredit",
] as const;

const userKey = (id: string) => `user:{${id}}`;
const markerKey = (id: string, tx: string) => `user:{${id}}:tx:${tx}`;
const orderPaymentKey = (id: string, order: string) => `user:{${id}}:order:${order}`;

export type CreditChange =
  | { status: "ok" | "already_paid" | "insufficient"; credit: number }
  | { status: "not_found" | "overflow" };

export class PaymentStore {
  readonly shards: Shards<(typeof SCRIPTS)[number]>;

  constructor(config: BaseConfig) {
    this.shards = new Shards(config, loadLuaScripts(new URL("./lua/", import.meta.url), SCRIPTS));
  }

  async createUser(): Promise<string> {
    const id = newId();
    await this.shards.runFor(id, "createUser", [userKey(id)], []);
    return id;
  }

  /** Users "0".."n-1", overwritten. */
  async batchInit(n: number, credit: number): Promise<void> {
    await this.shards.inChunks(sequentialIds(n), 1000, (shard, ids) =>
      this.shards.run(shard, "batchInitUsers", ids.map(userKey), [credit]),
    );
  }

  async credit(id: string): Promise<number | null> {
    const credit = await this.shards.callFor(id, "findUser", (shard) => shard.get(userKey(id)));
    return credit == null ? null : Number(credit);
  }

  async addFunds(id: string, amount: number): Promise<CreditChange> {
    return toChange(await this.shards.runFor(id, "addFunds", [userKey(id)], [amount, MAX_VALUE]));
  }

  /** With an order id, at most one payment per (user, order). */
  async pay(id: string, amount: number, orderId?: string): Promise<CreditChange> {
    const keys = orderId ? [userKey(id), orderPaymentKey(id, orderId)] : [userKey(id)];
    return toChange(await this.shards.runFor(id, "pay", keys, [amount]));
  }

  /** Refunds an order payment once; null when the user is unknown. */
  async cancelOrderPayment(id: string, orderId: string): Promise<number | null> {
    const [status, refunded] = (await this.shards.runFor(id, "cancelOrderPayment", [
      userKey(id),
      orderPaymentKey(id, orderId),
    ], [])) as [string, number];
    return status === "ok" ? refunded : null;
  }

  async orderPaid(id: string, orderId: string): Promise<boolean> {
    return (await this.shards.callFor(id, "orderPaid", (shard) => shard.exists(orderPaymentKey(id, orderId)))) === 1;
  }

  /** Saga step; a refusal is final and holds nothing. */
  async charge(tx: string, id: string, amount: number): Promise<StepReply> {
    const reply = await this.shards.runFor(id, "chargeCredit", [userKey(id), markerKey(id, tx)], [amount, TX_MARKER_TTL_SECONDS]);
    return decodeStep("chargeCredit", "charged", reply);
  }

  /** Saga compensation; idempotent and final. Credit returned by this call. */
  async refund(tx: string, id: string): Promise<number> {
    const reply = await this.shards.runFor(id, "refundCredit", [userKey(id), markerKey(id, tx)], [TX_MARKER_TTL_SECONDS]);
    return decodeCompensation("refundCredit", "refunded", reply);
  }
}

function toChange(reply: ScriptReply): CreditChange {
  const [status, credit] = reply as [CreditChange["status"], number?];
  return status === "not_found" || status === "overflow" ? { status } : { status, credit: Number(credit) };
}
