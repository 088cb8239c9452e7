// Every Redis call of the payment service. A user's credit is the string `user:{id}`; transaction
// markers `user:{id}:tx:<tx>`, credit set aside under 2PC `user:{id}:held` and order payments
// `user:{id}:order:<order>` share the user's slot.
import type { BaseConfig } from "../common/config.js";
import { newId, sequentialIds } from "../common/ids.js";
import { MAX_VALUE } from "../common/params.js";
import { IdempotentRunner, withIdempotency, type IdempotencyKey } from "../common/idempotency.js";
import { Shards, type ScriptReply } from "../common/redis.js";
import { PARTICIPANT_REFUSALS, type PaymentRefusal } from "../common/contract.js";
import { PHASE_NAMES, phaseName, PROTOCOL_REFUSALS, type ProtocolRefusal, type TryReply, type TxProtocol } from "@shardshop/orchestrator";
import { decodeSettlement, decodeTry, loadLuaScripts } from "@shardshop/orchestrator/redis";

const SCRIPTS = ["createUser", "batchInitUsers", "addFunds", "pay", "cancelOrderPayment", ...PHASE_NAMES] as const;
/** The scripts of public changes, which an Idempotency-Key may guard. */
const GUARDED = ["createUser", "addFunds", "pay", "cancelOrderPayment"] as const;
const REFUSALS = [...PARTICIPANT_REFUSALS.payment, ...PROTOCOL_REFUSALS];

const userKey = (id: string) => `user:{${id}}`;
const markerKey = (id: string, tx: string) => `user:{${id}}:tx:${tx}`;
const heldKey = (id: string) => `user:{${id}}:held`;
const orderPaymentKey = (id: string, order: string) => `user:{${id}}:order:${order}`;

export type CreditChange =
  | { status: "ok" | "already_paid" | "insufficient"; credit: number }
  | { status: "not_found" | "overflow" };

/** Every script the payment service runs, by name, guarded ones wrapped. */
export const paymentScripts = () => withIdempotency(loadLuaScripts(new URL("./lua/", import.meta.url), SCRIPTS), GUARDED);

export class PaymentStore {
  readonly shards;
  private readonly windowMs: number;
  private readonly guarded: IdempotentRunner<(typeof GUARDED)[number]>;

  constructor(config: BaseConfig) {
    this.windowMs = config.TX_WINDOW_MS;
    this.shards = new Shards(config, paymentScripts());
    this.guarded = new IdempotentRunner(this.shards, config.IDEMPOTENCY_TTL_MS);
  }

  /** With a key, the new user's id is the key's. */
  async createUser(key?: IdempotencyKey): Promise<string> {
    const id = key?.newId ?? newId();
    await this.guarded.run(id, "createUser", [userKey(id)], [], userKey(id), key);
    return id;
  }

  /** Users "0".."n-1", overwritten. */
  async batchInit(n: number, credit: number): Promise<void> {
    await this.shards.inChunks(sequentialIds(n), 1000, (shard, ids) =>
      this.shards.recovering(() => this.shards.run(shard, "batchInitUsers", ids.map(userKey), [credit]), true),
    );
  }

  async credit(id: string): Promise<number | null> {
    const credit = await this.shards.readFor(id, "findUser", (shard) => shard.get(userKey(id)));
    return credit == null ? null : Number(credit);
  }

  async addFunds(id: string, amount: number, key?: IdempotencyKey): Promise<CreditChange> {
    return toChange(await this.guarded.run(id, "addFunds", [userKey(id)], [amount, MAX_VALUE], userKey(id), key));
  }

  /** With an order id, at most one payment per (user, order). */
  async pay(id: string, amount: number, orderId?: string, key?: IdempotencyKey): Promise<CreditChange> {
    const keys = orderId ? [userKey(id), orderPaymentKey(id, orderId)] : [userKey(id)];
    return toChange(await this.guarded.run(id, "pay", keys, [amount], userKey(id), key));
  }

  /** Refunds an order payment once; null when the user is unknown. */
  async cancelOrderPayment(id: string, orderId: string, key?: IdempotencyKey): Promise<number | null> {
    const keys = [userKey(id), orderPaymentKey(id, orderId)];
    const [status, refunded] = (await this.guarded.run(id, "cancelOrderPayment", keys, [], userKey(id), key)) as [string, number];
    return status === "ok" ? refunded : null;
  }

  async orderPaid(id: string, orderId: string): Promise<boolean> {
    return (await this.shards.readFor(id, "orderPaid", (shard) => shard.exists(orderPaymentKey(id, orderId)))) === 1;
  }

  /** A transaction's try (saga charge or 2PC prepare); a refusal is final and holds nothing. */
  async try(protocol: TxProtocol, tx: string, id: string, amount: number): Promise<TryReply<PaymentRefusal | ProtocolRefusal>> {
    const script = phaseName(protocol, "try");
    const reply = await this.shards.runFor(id, script, phaseKeys(tx, id), [amount, tx, this.windowMs]);
    return decodeTry(script, REFUSALS, reply);
  }

  /**
   * Cancel (refund or abort) of a transaction of `amount`; idempotent and final. Credit given back
   * by this call; throws CancelRefusedError if the transaction is confirmed here.
   */
  async cancel(protocol: TxProtocol, tx: string, id: string, amount: number): Promise<number> {
    const script = phaseName(protocol, "cancel");
    return decodeSettlement(script, await this.shards.runFor(id, script, phaseKeys(tx, id), [tx, this.windowMs, amount]));
  }

  /** Confirm (saga forget or 2PC commit) of many committed transactions: one script per shard. Credit confirmed. */
  async confirm(protocol: TxProtocol, txs: Array<{ tx: string; user_id: string }>): Promise<number> {
    const script = phaseName(protocol, "confirm");
    const replies = await Promise.all(
      [...this.shards.group(txs, (t) => t.user_id)].map(([shard, group]) =>
        this.shards.run(shard, script, group.flatMap(({ tx, user_id }) => phaseKeys(tx, user_id)), [...group.map((t) => t.tx), this.windowMs]),
      ),
    );
    return replies.reduce<number>((sum, reply) => sum + decodeSettlement(script, reply), 0);
  }
}

/** A user's keys the way the phase scripts expect them: credit, marker, held credit. */
function phaseKeys(tx: string, id: string): string[] {
  return [userKey(id), markerKey(id, tx), heldKey(id)];
}

function toChange(reply: ScriptReply): CreditChange {
  const [status, credit] = reply as [CreditChange["status"], number?];
  return status === "not_found" || status === "overflow" ? { status } : { status, credit: Number(credit) };
}
