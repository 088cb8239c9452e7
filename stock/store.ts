// Every Redis call of the stock service. Items are hashes `item:{id}` with fields stock and price;
// saga markers `item:{id}:tx:<tx>` share the item's slot.
import type { BaseConfig } from "../common/config.js";
import { newId, sequentialIds } from "../common/ids.js";
import { MAX_VALUE } from "../common/params.js";
import { loadLuaScripts, Shards, type ScriptReply } from "../common/redis.js";
import { decodeCompensation, decodeStep, TX_MARKER_TTL_SECONDS, type StepReply } from "../common/saga.js";

const SCRIPTS = ["createItem", "batchInitItems", "addStock", "subtractStock", "reserveStock", "releaseStock"] as const;

const itemKey = (id: string) => `item:{${id}}`;
const markerKey = (id: string, tx: string) => `item:{${id}}:tx:${tx}`;

export interface Item {
  stock: number;
  price: number;
}

export type StockChange =
  | { status: "ok"; stock: number }
  | { status: "not_found" }
  | { status: "overflow" }
  | { status: "insufficient"; stock: number };

/** Items keyed and argued the way reserveStock/releaseStock expect them. */
function stepKeys(tx: string, items: Array<[string, number]>): string[] {
  return items.flatMap(([id]) => [itemKey(id), markerKey(id, tx)]);
}

export class StockStore {
  readonly shards: Shards<(typeof SCRIPTS)[number]>;

  constructor(config: BaseConfig) {
    this.shards = new Shards(config, loadLuaScripts(new URL("./lua/", import.meta.url), SCRIPTS));
  }

  async createItem(price: number): Promise<string> {
    const id = newId();
    await this.shards.runFor(id, "createItem", [itemKey(id)], [price]);
    return id;
  }

  /** Items "0".."n-1", overwritten. */
  async batchInit(n: number, stock: number, price: number): Promise<void> {
    await this.shards.inChunks(sequentialIds(n), 1000, (shard, ids) =>
      this.shards.run(shard, "batchInitItems", ids.map(itemKey), [stock, price]),
    );
  }

  async find(id: string): Promise<Item | null> {
    const [stock, price] = await this.shards.callFor(id, "findItem", (shard) => shard.hmget(itemKey(id), "stock", "price"));
    return stock == null || price == null ? null : { stock: Number(stock), price: Number(price) };
  }

  async add(id: string, amount: number): Promise<StockChange> {
    const reply = await this.shards.runFor(id, "addStock", [itemKey(id)], [amount, MAX_VALUE]);
    return toChange(reply);
  }

  async subtract(id: string, amount: number): Promise<StockChange> {
    const reply = await this.shards.runFor(id, "subtractStock", [itemKey(id)], [amount]);
    return toChange(reply);
  }

  /**
   * Saga step: all items or none, across shards. Each shard's part is atomic; if one shard
   * refuses, the parts taken on the others are released before answering, so a refusal never
   * leaves stock held. A shard that does not answer makes the outcome unknown (thrown).
   */
  async reserve(tx: string, items: Array<[string, number]>): Promise<StepReply> {
    const groups = [...this.shards.group(items, ([id]) => id)];
    const replies = await Promise.all(
      groups.map(([shard, group]) =>
        this.shards.run(shard, "reserveStock", stepKeys(tx, group), [
          ...group.map(([, qty]) => qty),
          TX_MARKER_TTL_SECONDS,
        ]),
      ),
    );
    const refused = replies.map((reply) => decodeStep("reserveStock", "reserved", reply)).find((r) => r.status === "refused");
    if (!refused) return { status: "done" };
    if (groups.length > 1) await this.release(tx, items);
    return refused;
  }

  /** Saga compensation on every shard the items live on; idempotent and final. Units returned by this call. */
  async release(tx: string, items: Array<[string, number]>): Promise<number> {
    const replies = await Promise.all(
      [...this.shards.group(items, ([id]) => id)].map(([shard, group]) =>
        this.shards.run(shard, "releaseStock", stepKeys(tx, group), [TX_MARKER_TTL_SECONDS]),
      ),
    );
    return replies.reduce<number>((sum, reply) => sum + decodeCompensation("releaseStock", "released", reply), 0);
  }
}

function toChange(reply: ScriptReply): StockChange {
  const [status, value] = reply as [StockChange["status"], number?];
  if (status === "ok" || status === "insufficient") return { status, stock: Number(value) };
  return { status };
}
