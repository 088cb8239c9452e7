// Every Redis call of the order service. An order is the hash `order:{id}` (user_id, paid,
// total_cost, and while checking out its transaction record: tx, tx_state, tx_reason, tx_lease,
// tx_owner; afterwards last_tx, last_outcome) plus `order:{id}:items` (item -> "qty:price").
// Each shard also keeps `checkouts:pending`: orders with a running transaction by lease end.
import type { BaseConfig } from "../common/config.js";
import { newId, sequentialIds } from "../common/ids.js";
import { MAX_VALUE } from "../common/params.js";
import type { Redis } from "ioredis";
import { loadLuaScripts, Shards } from "../common/redis.js";
import { itemsKey, orderKey, PENDING_CHECKOUTS } from "./keys.js";

const SCRIPTS = [
  "createOrder",
  "batchInitOrders",
  "addItem",
  "removeItem",
  "removeOrder",
  "beginCheckout",
  "commitCheckout",
  "abortCheckout",
  "finishAbort",
] as const;


export interface Order {
  order_id: string;
  paid: boolean;
  items: Array<[string, number]>;
  user_id: string;
  total_cost: number;
}

/** A checkout transaction as the driver sees it after taking the lease. */
export interface Transaction {
  orderId: string;
  id: string;
  state: "trying" | "aborting";
  /** Why it aborts; empty while trying. */
  reason: string;
  userId: string;
  total: number;
  items: Array<[string, number]>;
}

export type BeginMode = "start" | "watch" | "resume";

export type BeginResult =
  | { kind: "drive"; tx: Transaction }
  | { kind: "busy"; txId: string }
  | { kind: "paid" | "empty" | "not_found" }
  | { kind: "done"; paid: boolean; lastTx: string; lastOutcome: string };

/** What the commit/abort/finish scripts report. */
export type TxStatus =
  | { kind: "finished"; outcome: string }
  | { kind: "aborting"; reason: string }
  | { kind: "unknown" };

export type OrderChange =
  | { status: "ok"; total: number }
  | { status: "not_found" | "paid" | "busy" | "overflow" | "not_in_order" }
  | { status: "too_many"; held: number };

export class OrderStore {
  readonly shards: Shards<(typeof SCRIPTS)[number]>;

  constructor(config: BaseConfig) {
    this.shards = new Shards(config, loadLuaScripts(new URL("./lua/", import.meta.url), SCRIPTS));
  }

  async create(userId: string): Promise<string> {
    const id = newId();
    await this.shards.runFor(id, "createOrder", [orderKey(id)], [userId]);
    return id;
  }

  /** Orders "0".."n-1", each for a random user with two random items of quantity 1. */
  async batchInit(n: number, nItems: number, nUsers: number, price: number): Promise<void> {
    const pick = (range: number) => String(Math.floor(Math.random() * range));
    await this.shards.inChunks(sequentialIds(n), 500, (shard, ids) =>
      this.shards.run(
        shard,
        "batchInitOrders",
        ids.flatMap((id) => [orderKey(id), itemsKey(id)]),
        [price, ...ids.flatMap(() => [pick(nUsers), pick(nItems), pick(nItems)])],
      ),
    );
  }

  async find(id: string): Promise<Order | null> {
    const [order, items] = await this.shards.callFor(id, "findOrder", (shard) =>
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

  async addItem(id: string, itemId: string, quantity: number, price: number): Promise<OrderChange> {
    const reply = await this.shards.runFor(id, "addItem", [orderKey(id), itemsKey(id)], [itemId, quantity, price, MAX_VALUE]);
    return toChange(reply as [string, number?]);
  }

  async removeItem(id: string, itemId: string, quantity?: number): Promise<OrderChange> {
    const reply = await this.shards.runFor(id, "removeItem", [orderKey(id), itemsKey(id)], [itemId, quantity ?? ""]);
    return toChange(reply as [string, number?]);
  }

  async remove(id: string): Promise<OrderChange> {
    return toChange((await this.shards.runFor(id, "removeOrder", [orderKey(id), itemsKey(id)], [])) as [string]);
  }

  async beginCheckout(id: string, mode: BeginMode, newTxId: string, leaseMs: number, owner: string): Promise<BeginResult> {
    const reply = (await this.shards.runFor(id, "beginCheckout", [orderKey(id), itemsKey(id), PENDING_CHECKOUTS], [
      mode,
      newTxId,
      leaseMs,
      owner,
      id,
    ])) as string[];
    switch (reply[0]) {
      case "drive": {
        const [, txId, state, reason, userId, total, ...flat] = reply as string[];
        const items: Array<[string, number]> = [];
        for (let i = 0; i < flat.length; i += 2) items.push([flat[i]!, parseInt(flat[i + 1]!, 10)]);
        return {
          kind: "drive",
          tx: { orderId: id, id: txId!, state: state as Transaction["state"], reason: reason!, userId: userId!, total: Number(total), items },
        };
      }
      case "busy":
        return { kind: "busy", txId: reply[1]! };
      case "done":
        return { kind: "done", paid: reply[1] === "1", lastTx: reply[2]!, lastOutcome: reply[3]! };
      default:
        return { kind: reply[0] as "paid" | "empty" | "not_found" };
    }
  }

  async commit(tx: Transaction): Promise<TxStatus> {
    return toTxStatus(await this.shards.runFor(tx.orderId, "commitCheckout", [orderKey(tx.orderId), PENDING_CHECKOUTS], [tx.id, tx.orderId]));
  }

  async decideAbort(tx: Transaction, reason: string): Promise<TxStatus> {
    return toTxStatus(await this.shards.runFor(tx.orderId, "abortCheckout", [orderKey(tx.orderId)], [tx.id, reason]));
  }

  async finishAbort(tx: Transaction): Promise<TxStatus> {
    return toTxStatus(await this.shards.runFor(tx.orderId, "finishAbort", [orderKey(tx.orderId), PENDING_CHECKOUTS], [tx.id, tx.orderId]));
  }

  /** Orders on one shard whose checkout lease has run out (by the shard's clock). */
  async expiredCheckouts(shard: number, limit: number): Promise<string[]> {
    return this.shards.call(shard, "expiredCheckouts", async (client) =>
      client.zrangebyscore(PENDING_CHECKOUTS, "-inf", await shardClock(client), "LIMIT", 0, limit),
    );
  }

  /** Running checkouts on one shard, and how many of them wait for recovery (lease run out). */
  async checkoutBacklog(shard: number): Promise<{ open: number; expired: number }> {
    return this.shards.call(shard, "checkoutBacklog", async (client) => {
      const now = await shardClock(client);
      const [open, expired] = await Promise.all([client.zcard(PENDING_CHECKOUTS), client.zcount(PENDING_CHECKOUTS, "-inf", now)]);
      return { open, expired };
    });
  }
}

/** The shard's own time in ms: leases are written in it, so they are compared in it. */
async function shardClock(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

function toChange([status, value]: [string, number?]): OrderChange {
  if (status === "ok") return { status, total: Number(value) };
  if (status === "too_many") return { status, held: Number(value) };
  return { status: status as "not_found" };
}

function toTxStatus(reply: unknown): TxStatus {
  const [kind, value] = reply as [string, string?];
  if (kind === "finished") return { kind, outcome: value! };
  if (kind === "aborting") return { kind, reason: value! };
  return { kind: "unknown" };
}
