// Every Redis call of the order service. An order is the hash `order:{id}` (user_id, paid,
// total_cost, and the checkout's transaction record, whose fields the engine owns: see
// orchestrator/redis/lua/includes/txRecord.lua) plus `order:{id}:items` (item -> "qty:price"). Each
// partition also keeps an index of the orders with an open transaction by lease end (keys.ts).
import type { BaseConfig } from "../common/config.js";
import { newId, sequentialIds } from "../common/ids.js";
import { MAX_ORDER_LINES } from "../common/contract.js";
import { MAX_VALUE } from "../common/params.js";
import { IdempotentRunner, withIdempotency, type IdempotencyKey } from "../common/idempotency.js";
import { isStorageFailure, Shards } from "../common/redis.js";
import { loadLuaScripts, RedisTxLog, withTxLogScripts, type RedisHost } from "@shardshop/orchestrator/redis";
import { itemsKey, orderKey, PARKED_CHECKOUTS, PENDING_CHECKOUTS } from "./keys.js";

const SCRIPTS = [
  "createOrder",
  "batchInitOrders",
  "addItem",
  "removeItem",
  "removeOrder",
  "beginCheckout",
] as const;
/** The scripts of public changes, which an Idempotency-Key may guard. */
const GUARDED = ["createOrder", "addItem", "removeItem", "removeOrder"] as const;

export interface Order {
  order_id: string;
  paid: boolean;
  items: Array<[string, number]>;
  user_id: string;
  total_cost: number;
}

/** What a checkout transaction is made of: the order as it was when the checkout began. */
export interface CheckoutPayload {
  userId: string;
  total: number;
  items: Array<[string, number]>;
}

/** Why an order cannot start a checkout. */
export const CHECKOUT_REFUSALS = ["not_found", "paid", "empty", "too_many_lines"] as const;
export type CheckoutRefusal = (typeof CHECKOUT_REFUSALS)[number];

export type OrderChange =
  | { status: "ok"; total: number }
  | { status: "not_found" | "paid" | "busy" | "overflow" | "not_in_order" | "too_many_lines" }
  | { status: "too_many"; held: number };

/** Every script the order service runs, by name: its own, guarded ones wrapped, and the engine's. */
export const orderScripts = () => withTxLogScripts(withIdempotency(loadLuaScripts(new URL("./lua/", import.meta.url), SCRIPTS), GUARDED));

/** The order shards as the engine's Redis storage sees them. */
function txHost(shards: Shards<string>): RedisHost {
  return {
    get sweepGroups() {
      return shards.topology.sweepGroups;
    },
    partitionsByNode: (group) => shards.byNode(shards.topology.partitionsOfGroup(group)),
    partitionOf: (key) => shards.indexOf(key),
    partitionKey: (base, partition) => shards.partitionKey(base, partition),
    run: (partition, script, keys, args) => shards.run(partition, script, keys, args),
    hmget: (key, fields) => shards.callFor(key, "inspectTx", (shard) => shard.hmget(key, ...fields)),
    isStorageFailure,
  };
}

export class OrderStore {
  readonly shards;
  /** The checkout's transaction records, for the orchestrator. */
  readonly checkouts: RedisTxLog<CheckoutPayload, CheckoutRefusal>;
  private readonly guarded: IdempotentRunner<(typeof GUARDED)[number]>;

  constructor(config: BaseConfig) {
    this.shards = new Shards(config, orderScripts());
    this.guarded = new IdempotentRunner(this.shards, config.IDEMPOTENCY_TTL_MS);
    this.checkouts = new RedisTxLog(txHost(this.shards), {
      recordKey: orderKey,
      pendingKey: PENDING_CHECKOUTS,
      parkedKey: PARKED_CHECKOUTS,
      beginScript: "beginCheckout",
      extraKeys: (id) => [itemsKey(id)],
      extraArgs: [MAX_ORDER_LINES],
      payload: ([userId, total, ...flat]) => {
        const items: Array<[string, number]> = [];
        for (let i = 0; i < flat.length; i += 2) items.push([flat[i]!, parseInt(flat[i + 1]!, 10)]);
        return { userId: userId!, total: Number(total), items };
      },
      refusals: CHECKOUT_REFUSALS,
      commitFields: ["paid", "1"],
    });
  }

  /** With a key, the new order's id is the key's. */
  async create(userId: string, key?: IdempotencyKey): Promise<string> {
    const id = key?.newId ?? newId();
    await this.guarded.run(id, "createOrder", [orderKey(id)], [userId], orderKey(id), key);
    return id;
  }

  /** Orders "0".."n-1", each for a random user with two random items of quantity 1. */
  async batchInit(n: number, nItems: number, nUsers: number, price: number): Promise<void> {
    const pick = (range: number) => String(Math.floor(Math.random() * range));
    await this.shards.inChunks(sequentialIds(n), 500, (shard, ids) =>
      this.shards.recovering(() => this.shards.run(
        shard,
        "batchInitOrders",
        ids.flatMap((id) => [orderKey(id), itemsKey(id)]),
        [price, ...ids.flatMap(() => [pick(nUsers), pick(nItems), pick(nItems)])],
      ), true),
    );
  }

  async find(id: string): Promise<Order | null> {
    const [order, items] = await this.shards.readFor(id, "findOrder", (shard) =>
      Promise.all([shard.hmget(orderKey(id), "user_id", "paid", "total_cost"), shard.hgetall(itemsKey(id))]),
    );
    const [userId, paid, total] = order;
    if (userId == null) return null;
    return {
      order_id: id,
      paid: paid === "1",
      items: Object.entries(items).map(([item, held]) => [item, parseInt(held, 10)]),
      user_id: userId,
      total_cost: Number(total),
    };
  }

  async addItem(id: string, itemId: string, quantity: number, price: number, key?: IdempotencyKey): Promise<OrderChange> {
    const reply = await this.guarded.run(id, "addItem", [orderKey(id), itemsKey(id)], [itemId, quantity, price, MAX_VALUE, MAX_ORDER_LINES], orderKey(id), key);
    return toChange(reply as [string, number?]);
  }

  async removeItem(id: string, itemId: string, quantity?: number, key?: IdempotencyKey): Promise<OrderChange> {
    const reply = await this.guarded.run(id, "removeItem", [orderKey(id), itemsKey(id)], [itemId, quantity ?? ""], orderKey(id), key);
    return toChange(reply as [string, number?]);
  }

  async remove(id: string, key?: IdempotencyKey): Promise<OrderChange> {
    return toChange((await this.guarded.run(id, "removeOrder", [orderKey(id), itemsKey(id)], [], orderKey(id), key)) as [string]);
  }
}

function toChange([status, value]: [string, number?]): OrderChange {
  if (status === "ok") return { status, total: Number(value) };
  if (status === "too_many") return { status, held: Number(value) };
  return { status: status as "not_found" };
}
