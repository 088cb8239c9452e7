// Every Redis call of the stock service. Items are hashes `item:{id}` with fields stock, price and
// (under 2PC) held; transaction markers `item:{id}:tx:<tx>` share the item's slot.
import type { BaseConfig } from "../common/config.js";
import { newId, sequentialIds } from "../common/ids.js";
import { MAX_VALUE } from "../common/params.js";
import { IdempotentRunner, withIdempotency, type IdempotencyKey } from "../common/idempotency.js";
import { Shards, type ScriptReply } from "../common/redis.js";
import { PARTICIPANT_REFUSALS, type StockRefusal } from "../common/contract.js";
import { PHASE_NAMES, phaseName, PROTOCOL_REFUSALS, type ProtocolRefusal, type TryReply, type TxProtocol } from "@shardshop/orchestrator";
import { decodeSettlement, decodeTry, loadLuaScripts } from "@shardshop/orchestrator/redis";

const SCRIPTS = ["createItem", "batchInitItems", "addStock", "subtractStock", ...PHASE_NAMES] as const;
/** The scripts of public changes, which an Idempotency-Key may guard. */
const GUARDED = ["createItem", "addStock", "subtractStock"] as const;
const REFUSALS = [...PARTICIPANT_REFUSALS.stock, ...PROTOCOL_REFUSALS];

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

/** Items keyed the way the phase scripts expect them: (item, marker) pairs. */
function phaseKeys(tx: string, items: Array<[string, number]>): string[] {
  return items.flatMap(([id]) => [itemKey(id), markerKey(id, tx)]);
}

/** Every script the stock service runs, by name, guarded ones wrapped. */
export const stockScripts = () => withIdempotency(loadLuaScripts(new URL("./lua/", import.meta.url), SCRIPTS), GUARDED);

export class StockStore {
  readonly shards;
  private readonly windowMs: number;
  private readonly guarded: IdempotentRunner<(typeof GUARDED)[number]>;

  constructor(config: BaseConfig) {
    this.windowMs = config.TX_WINDOW_MS;
    this.shards = new Shards(config, stockScripts());
    this.guarded = new IdempotentRunner(this.shards, config.IDEMPOTENCY_TTL_MS);
  }

  /** With a key, the new item's id is the key's. */
  async createItem(price: number, key?: IdempotencyKey): Promise<string> {
    const id = key?.newId ?? newId();
    await this.guarded.run(id, "createItem", [itemKey(id)], [price], itemKey(id), key);
    return id;
  }

  /** Items "0".."n-1", overwritten. */
  async batchInit(n: number, stock: number, price: number): Promise<void> {
    await this.shards.inChunks(sequentialIds(n), 1000, (shard, ids) =>
      this.shards.recovering(() => this.shards.run(shard, "batchInitItems", ids.map(itemKey), [stock, price]), true),
    );
  }

  async find(id: string): Promise<Item | null> {
    const [stock, price] = await this.shards.readFor(id, "findItem", (shard) => shard.hmget(itemKey(id), "stock", "price"));
    return stock == null || price == null ? null : { stock: Number(stock), price: Number(price) };
  }

  async add(id: string, amount: number, key?: IdempotencyKey): Promise<StockChange> {
    return toChange(await this.guarded.run(id, "addStock", [itemKey(id)], [amount, MAX_VALUE], itemKey(id), key));
  }

  async subtract(id: string, amount: number, key?: IdempotencyKey): Promise<StockChange> {
    return toChange(await this.guarded.run(id, "subtractStock", [itemKey(id)], [amount], itemKey(id), key));
  }

  /**
   * A transaction's try (saga step or 2PC prepare): all items or none, across shards. Each shard's
   * part is atomic; if one shard refuses, the parts taken on the others are cancelled before
   * answering, so a refusal never leaves stock held. A shard that does not answer makes the
   * outcome unknown (thrown).
   */
  async try(protocol: TxProtocol, tx: string, items: Array<[string, number]>): Promise<TryReply<StockRefusal | ProtocolRefusal>> {
    const script = phaseName(protocol, "try");
    const groups = [...this.shards.group(items, ([id]) => id)];
    const replies = await Promise.all(
      groups.map(([shard, group]) =>
        this.shards.run(shard, script, phaseKeys(tx, group), [...group.map(([, qty]) => qty), tx, this.windowMs]),
      ),
    );
    const refused = replies.map((reply) => decodeTry(script, REFUSALS, reply)).find((r) => r.status === "refused");
    if (!refused) return { status: "done" };
    if (groups.length > 1) await this.cancel(protocol, tx, items);
    return refused;
  }

  /**
   * Cancel (compensation or abort) on every shard the items live on; idempotent and final. Units
   * given back by this call; throws CancelRefusedError if a shard has the transaction confirmed.
   */
  async cancel(protocol: TxProtocol, tx: string, items: Array<[string, number]>): Promise<number> {
    const script = phaseName(protocol, "cancel");
    const replies = await Promise.all(
      [...this.shards.group(items, ([id]) => id)].map(([shard, group]) => this.shards.run(shard, script, phaseKeys(tx, group), [tx, this.windowMs])),
    );
    return replies.reduce<number>((sum, reply) => sum + decodeSettlement(script, reply), 0);
  }

  /** Confirm (saga forget or 2PC commit) of many committed transactions: one script per shard. Units confirmed. */
  async confirm(protocol: TxProtocol, txs: Array<{ tx: string; items: Array<[string, number]> }>): Promise<number> {
    const script = phaseName(protocol, "confirm");
    const pairs = txs.flatMap(({ tx, items }) => items.map(([id]) => ({ tx, id })));
    const replies = await Promise.all(
      [...this.shards.group(pairs, (p) => p.id)].map(([shard, group]) =>
        this.shards.run(shard, script, group.flatMap(({ tx, id }) => [itemKey(id), markerKey(id, tx)]), [...group.map((p) => p.tx), this.windowMs]),
      ),
    );
    return replies.reduce<number>((sum, reply) => sum + decodeSettlement(script, reply), 0);
  }
}

function toChange(reply: ScriptReply): StockChange {
  const [status, value] = reply as [StockChange["status"], number?];
  if (status === "ok" || status === "insufficient") return { status, stock: Number(value) };
  return { status };
}
