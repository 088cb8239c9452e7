// The participants' side of the transaction contract (orchestrator/participant.ts), on real stock
// and payment processes, for both protocols: tries are idempotent by transaction id, a cancel and
// a confirm are each final (a try after a cancel changes nothing, a cancel after a confirm changes
// nothing), a phase never acts on the other protocol's marker, and what a finished transaction
// leaves behind expires with its window. The model-based test (markers.property.test.ts) runs
// random sequences of the same phases on the same scripts.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardIndexOf } from "../common/shards.js";
import { newTxId, type Phase, TX_PROTOCOLS, type TxProtocol } from "@shardshop/orchestrator";
import { batchRoute, phaseRoute } from "@shardshop/orchestrator/http";
import { internalPost, shop, startTestStack, type TestStack } from "./helpers.js";

const WINDOW_MS = 20_000;
let stack: TestStack;
let fx: ReturnType<typeof shop>;
let redis: Record<"stock" | "payment", Redis[]>;

beforeAll(async () => {
  stack = await startTestStack({ shards: 2, env: { TX_WINDOW_MS: String(WINDOW_MS) } });
  fx = shop(stack.api);
  const connect = (s: "stock" | "payment") => stack.redis[s].map((c) => new Redis({ port: c.port, ...stack.redisAuth, lazyConnect: false }));
  redis = { stock: connect("stock"), payment: connect("payment") };
});
afterAll(async () => {
  for (const r of [...(redis?.stock ?? []), ...(redis?.payment ?? [])]) r.disconnect();
  await stack?.teardown();
});

/** A call straight to a participant instance, as the order service makes it. */
async function call(service: "stock" | "payment", protocol: TxProtocol, phase: Phase, body: object): Promise<{ status: number; body: any }> {
  const res = await internalPost(stack, service, phaseRoute(service, protocol, phase), body);
  return { status: res.status, body: await res.json() };
}

const done = { status: 200, body: { status: "done" } };
const refused = (reason: string) => ({ status: 409, body: { status: "refused", reason } });
const txId = (ageMs = 0) => newTxId(Date.now() - ageMs);

/** A stock marker's value and its time to live in ms (-1: none, -2: no key). */
async function stockMarker(item: string, tx: string): Promise<[string | null, number]> {
  const r = redis.stock[shardIndexOf(item, 2)]!;
  const key = `item:{${item}}:tx:${tx}`;
  return [await r.get(key), await r.pttl(key)];
}
async function creditMarker(user: string, tx: string): Promise<[string | null, number]> {
  const r = redis.payment[shardIndexOf(user, 2)]!;
  const key = `user:{${user}}:tx:${tx}`;
  return [await r.get(key), await r.pttl(key)];
}
const held = async (item: string) => Number((await redis.stock[shardIndexOf(item, 2)]!.hget(`item:{${item}}`, "held")) ?? 0);
const heldCredit = async (user: string) => Number((await redis.payment[shardIndexOf(user, 2)]!.get(`user:{${user}}:held`)) ?? 0);

describe.each(TX_PROTOCOLS)("%s", (protocol) => {
  const holds = protocol === "2pc";
  const other = TX_PROTOCOLS.find((p) => p !== protocol)!;
  /** A marker's value as this protocol writes it. */
  const mark = (state: string) => `${protocol}:${state}`;

  /** Tries every transaction, then confirms them all in one call, twice (a confirm is idempotent). */
  async function tryAllThenConfirmTwice(service: "stock" | "payment", txs: object[]): Promise<void> {
    for (const tx of txs) expect(await call(service, protocol, "try", tx)).toEqual(done);
    for (let i = 0; i < 2; i++) expect(await call(service, protocol, "confirm", { txs })).toEqual(done);
  }

  /** A confirm leaves "c" in either protocol, which expires one window after the window. */
  function expectConfirmed([marker, ttl]: [string | null, number]): void {
    expect(marker).toBe(mark("c"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2 * WINDOW_MS);
  }

  describe("stock", () => {
    it("tries once per transaction, and refuses a try replayed after its cancel, on every shard", async () => {
      const a = await fx.item(1, 10);
      let b = await fx.item(1, 10);
      while (shardIndexOf(b, 2) === shardIndexOf(a, 2)) b = await fx.item(1, 10);
      const tx = { tx: txId(), items: [[a, 3], [b, 2]] };
      expect(await call("stock", protocol, "try", tx)).toEqual(done);
      expect(await call("stock", protocol, "try", tx)).toEqual(done);
      expect([await fx.stock(a), await fx.stock(b)]).toEqual([7, 8]);
      expect([await held(a), await held(b)]).toEqual(holds ? [3, 2] : [0, 0]);
      // A marker that holds stock never expires: a cancel must find it however late it comes.
      expect(await stockMarker(a, tx.tx)).toEqual([mark("3"), -1]);

      expect(await call("stock", protocol, "cancel", tx)).toEqual(done);
      expect(await call("stock", protocol, "cancel", tx)).toEqual(done);
      expect([await fx.stock(a), await fx.stock(b)]).toEqual([10, 10]);
      expect([await held(a), await held(b)]).toEqual([0, 0]);
      expect(await call("stock", protocol, "try", tx)).toEqual(refused("compensated"));
      expect([await fx.stock(a), await fx.stock(b)]).toEqual([10, 10]);
      // The cancel marker holds nothing: it lives only until no try could be accepted, plus one window.
      const [marker, ttl] = await stockMarker(a, tx.tx);
      expect(marker).toBe(mark("x"));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2 * WINDOW_MS);
    });

    it("refuses a try that arrives after its cancel was already applied", async () => {
      const a = await fx.item(1, 10);
      const tx = { tx: txId(), items: [[a, 4]] };
      expect(await call("stock", protocol, "cancel", tx)).toEqual(done);
      expect(await call("stock", protocol, "try", tx)).toEqual(refused("compensated"));
      expect(await fx.stock(a)).toBe(10);
    });

    it("keeps a refusal final: the same transaction never takes stock later, even once stock is there", async () => {
      const a = await fx.item(1, 1);
      const tx = { tx: txId(), items: [[a, 2]] };
      expect(await call("stock", protocol, "try", tx)).toEqual(refused("insufficient_stock"));
      await stack.api.post(`/stock/add/${a}/5`);
      expect(await call("stock", protocol, "try", tx)).toEqual(refused("insufficient_stock"));
      expect(await call("stock", protocol, "cancel", tx)).toEqual(done);
      expect(await fx.stock(a)).toBe(6);
    });

    it("confirms many transactions in one call: stock stays taken, held is spent, markers expire", async () => {
      const a = await fx.item(1, 10);
      const txs = [{ tx: txId(), items: [[a, 1]] }, { tx: txId(), items: [[a, 2]] }];
      await tryAllThenConfirmTwice("stock", txs);
      expect(await fx.stock(a)).toBe(7);
      expect(await held(a)).toBe(0);
      expectConfirmed(await stockMarker(a, txs[0]!.tx));
      // A replayed try of a confirmed transaction answers done and takes nothing.
      expect(await call("stock", protocol, "try", txs[0]!)).toEqual(done);
      expect(await fx.stock(a)).toBe(7);
      // A confirm is final: a cancel after it changes nothing and says so.
      expect(await call("stock", protocol, "cancel", txs[0]!)).toEqual(refused("confirmed"));
      expect([await fx.stock(a), await held(a)]).toEqual([7, 0]);
      expectConfirmed(await stockMarker(a, txs[0]!.tx));
    });

    it("never acts on the other protocol's marker: its phases are refused and change nothing", async () => {
      const a = await fx.item(1, 10);
      const tx = { tx: txId(), items: [[a, 3]] };
      expect(await call("stock", other, "try", tx)).toEqual(done);
      const before = [await fx.stock(a), await held(a), ...(await stockMarker(a, tx.tx))];
      expect(await call("stock", protocol, "try", tx)).toEqual(refused("other_protocol"));
      expect(await call("stock", protocol, "cancel", tx)).toEqual(refused("other_protocol"));
      expect(await call("stock", protocol, "confirm", { txs: [tx] })).toEqual(done);
      expect([await fx.stock(a), await held(a), ...(await stockMarker(a, tx.tx))]).toEqual(before);
      expect(await call("stock", other, "cancel", tx)).toEqual(done);
      expect([await fx.stock(a), await held(a)]).toEqual([10, 0]);
    });

    it("runs each member of a batch on its own: a malformed one is refused alone, the others are applied", async () => {
      const a = await fx.item(1, 10);
      const txs = [{ tx: txId(), items: [[a, 1]] }, { tx: txId(), items: Array.from({ length: 1001 }, (_, i) => [`i${i}`, 1]) }, { tx: "nope", items: [[a, 1]] }, { tx: txId(), items: [[a, 2]] }];
      const res = await internalPost(stack, "stock", batchRoute("stock", protocol, "try"), { txs });
      const { results } = (await res.json()) as { results: Array<{ status: string; error?: string }> };
      expect(res.status).toBe(200);
      expect(results.map((r) => r.status)).toEqual(["done", "invalid", "invalid", "done"]);
      expect(results[1]!.error).toMatch(/items/);
      expect(results[2]!.error).toMatch(/UUIDv7/);
      expect(await fx.stock(a)).toBe(7);
    });

    it("refuses a try outside its window, either way, and takes nothing", async () => {
      const a = await fx.item(1, 10);
      const [late, early] = [txId(WINDOW_MS + 1000), txId(-(WINDOW_MS + 5000))];
      expect(await call("stock", protocol, "try", { tx: late, items: [[a, 1]] })).toEqual(refused("expired"));
      expect(await call("stock", protocol, "try", { tx: early, items: [[a, 1]] })).toEqual(refused("expired"));
      expect(await fx.stock(a)).toBe(10);
      // The try writes its marker before it reads the clock; a refused one takes it away again.
      expect([await stockMarker(a, late), await stockMarker(a, early)]).toEqual([[null, -2], [null, -2]]);
    });

    it("changes nothing when a confirm finds its transaction cancelled or refused: the final marker stays as it was", async () => {
      const a = await fx.item(1, 1);
      const cancelled = { tx: txId(), items: [[a, 1]] };
      const refusal = { tx: txId(), items: [[a, 5]] };
      expect(await call("stock", protocol, "try", cancelled)).toEqual(done);
      expect(await call("stock", protocol, "cancel", cancelled)).toEqual(done);
      expect(await call("stock", protocol, "try", refusal)).toEqual(refused("insufficient_stock"));
      const before = [await stockMarker(a, cancelled.tx), await stockMarker(a, refusal.tx)];
      expect(await call("stock", protocol, "confirm", { txs: [cancelled, refusal] })).toEqual(done);
      const after = [await stockMarker(a, cancelled.tx), await stockMarker(a, refusal.tx)];
      expect(after.map(([marker]) => marker)).toEqual([mark("x"), mark("x:insufficient_stock")]);
      // Put back with the expiry it had (a millisecond or so has passed since).
      for (const [i, [, ttl]] of after.entries()) expect(Math.abs(ttl - before[i]![1])).toBeLessThan(1000);
      expect([await fx.stock(a), await held(a)]).toEqual([1, 0]);
    });

    it("confirms a transaction older than its window without leaving a marker", async () => {
      const a = await fx.item(1, 10);
      const old = txId(WINDOW_MS - 1500);
      expect(await call("stock", protocol, "try", { tx: old, items: [[a, 4]] })).toEqual(done);
      await new Promise((r) => setTimeout(r, 2000)); // the window closes; the held marker stays
      expect(await call("stock", protocol, "confirm", { txs: [{ tx: old, items: [[a, 4]] }] })).toEqual(done);
      expect([await fx.stock(a), await held(a)]).toEqual([6, 0]);
      expect(await stockMarker(a, old)).toEqual([null, -2]);
    });

    it("cancels a transaction older than its window without leaving a marker, and gives back what it held", async () => {
      const a = await fx.item(1, 10);
      const old = txId(WINDOW_MS - 1500);
      expect(await call("stock", protocol, "try", { tx: old, items: [[a, 4]] })).toEqual(done);
      await new Promise((r) => setTimeout(r, 2000)); // the window closes; the held marker stays
      expect(await stockMarker(a, old)).toEqual([mark("4"), -1]);
      expect(await call("stock", protocol, "cancel", { tx: old, items: [[a, 4]] })).toEqual(done);
      expect(await fx.stock(a)).toBe(10);
      expect(await stockMarker(a, old)).toEqual([null, -2]);
    });
  });

  describe("payment", () => {
    it("charges once per transaction, and refuses a charge replayed after its cancel", async () => {
      const user = await fx.user(20);
      const charge = { tx: txId(), user_id: user, amount: 7 };
      expect(await call("payment", protocol, "try", charge)).toEqual(done);
      expect(await call("payment", protocol, "try", charge)).toEqual(done);
      expect(await fx.credit(user)).toBe(13);
      expect(await heldCredit(user)).toBe(holds ? 7 : 0);
      expect(await creditMarker(user, charge.tx)).toEqual([mark("7"), -1]);

      expect(await call("payment", protocol, "cancel", charge)).toEqual(done);
      expect(await call("payment", protocol, "cancel", charge)).toEqual(done);
      expect(await fx.credit(user)).toBe(20);
      expect(await heldCredit(user)).toBe(0);
      expect(await call("payment", protocol, "try", charge)).toEqual(refused("compensated"));
      expect(await fx.credit(user)).toBe(20);
    });

    it("refuses a charge that arrives after its cancel was already applied", async () => {
      const user = await fx.user(20);
      const tx = txId();
      expect(await call("payment", protocol, "cancel", { tx, user_id: user, amount: 5 })).toEqual(done);
      expect(await call("payment", protocol, "try", { tx, user_id: user, amount: 5 })).toEqual(refused("compensated"));
      expect(await fx.credit(user)).toBe(20);
    });

    it("refuses a charge outside its window, takes nothing and leaves no marker", async () => {
      const user = await fx.user(20);
      const late = { tx: txId(WINDOW_MS + 1000), user_id: user, amount: 5 };
      expect(await call("payment", protocol, "try", late)).toEqual(refused("expired"));
      expect(await fx.credit(user)).toBe(20);
      expect(await creditMarker(user, late.tx)).toEqual([null, -2]);
    });

    it("confirms in batches: credit stays taken, held is spent, markers expire", async () => {
      const user = await fx.user(20);
      const txs = [{ tx: txId(), user_id: user, amount: 3 }, { tx: txId(), user_id: user, amount: 4 }];
      await tryAllThenConfirmTwice("payment", txs);
      expect(await fx.credit(user)).toBe(13);
      expect(await heldCredit(user)).toBe(0);
      expectConfirmed(await creditMarker(user, txs[1]!.tx));
      // A confirm is final: a cancel after it changes nothing and says so.
      expect(await call("payment", protocol, "cancel", txs[1]!)).toEqual(refused("confirmed"));
      expect([await fx.credit(user), await heldCredit(user)]).toEqual([13, 0]);
    });

    it("writes nothing for a phase of nothing (an amount of 0), and still refuses an unknown user", async () => {
      const user = await fx.user(20);
      const free = { tx: txId(), user_id: user, amount: 0 };
      expect(await call("payment", protocol, "try", free)).toEqual(done);
      expect(await creditMarker(user, free.tx)).toEqual([null, -2]);
      expect(await call("payment", protocol, "cancel", free)).toEqual(done);
      expect(await call("payment", protocol, "confirm", { txs: [free] })).toEqual(done);
      expect(await creditMarker(user, free.tx)).toEqual([null, -2]);
      expect(await fx.credit(user)).toBe(20);
      const nobody = { tx: txId(), user_id: "nobody-at-all", amount: 0 };
      expect(await call("payment", protocol, "try", nobody)).toEqual(refused("unknown_user"));
      expect(await creditMarker("nobody-at-all", nobody.tx)).toEqual([null, -2]);
    });

    it("never acts on the other protocol's marker: its phases are refused and change nothing", async () => {
      const user = await fx.user(20);
      const charge = { tx: txId(), user_id: user, amount: 6 };
      expect(await call("payment", other, "try", charge)).toEqual(done);
      const before = [await fx.credit(user), await heldCredit(user), ...(await creditMarker(user, charge.tx))];
      expect(await call("payment", protocol, "try", charge)).toEqual(refused("other_protocol"));
      expect(await call("payment", protocol, "cancel", charge)).toEqual(refused("other_protocol"));
      expect(await call("payment", protocol, "confirm", { txs: [charge] })).toEqual(done);
      expect([await fx.credit(user), await heldCredit(user), ...(await creditMarker(user, charge.tx))]).toEqual(before);
      expect(await call("payment", other, "cancel", charge)).toEqual(done);
      expect(await fx.credit(user)).toBe(20);
    });

    it("refuses internal calls that came through a proxy, and ids that are not UUIDv7", async () => {
      const user = await fx.user(20);
      for (const phase of ["try", "cancel"] as const) {
        const res = await fetch(`${stack.services.payment[0]!.url}${phaseRoute("payment", protocol, phase)}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9" },
          body: JSON.stringify({ tx: txId(), user_id: user, amount: 5 }),
        });
        expect(res.status, phase).toBe(404);
      }
      const v4 = await call("payment", protocol, "try", { tx: crypto.randomUUID(), user_id: user, amount: 5 });
      expect(v4.status).toBe(400);
      expect(v4.body.error).toMatch(/UUIDv7/);
      expect(await fx.credit(user)).toBe(20);
    });

    it("serves batches of tries and cancels: one result per transaction, each as idempotent and final as alone", async () => {
      const batch = async (phase: "try" | "cancel", txs: object[], headers: Record<string, string> = {}) => {
        const res = await internalPost(stack, "payment", batchRoute("payment", protocol, phase), { txs }, headers);
        return { status: res.status, body: await res.json() };
      };
      const [rich, poor] = [await fx.user(20), await fx.user(3)];
      const txs = [{ tx: txId(), user_id: rich, amount: 5 }, { tx: txId(), user_id: poor, amount: 5 }, { tx: txId(), user_id: rich, amount: 4 }];
      const expected = { status: 200, body: { results: [{ status: "done" }, { status: "refused", reason: "insufficient_credit" }, { status: "done" }] } };
      expect(await batch("try", txs)).toEqual(expected);
      // A repeat applies nothing and answers the same.
      expect(await batch("try", txs)).toEqual(expected);
      expect([await fx.credit(rich), await fx.credit(poor)]).toEqual([11, 3]);
      expect(await batch("cancel", txs.slice(0, 1))).toEqual({ status: 200, body: { results: [{ status: "done" }] } });
      expect(await fx.credit(rich)).toBe(16);
      // Cancelled is final: the same try again, batched, is refused.
      expect((await batch("try", txs.slice(0, 1))).body.results).toEqual([{ status: "refused", reason: "compensated" }]);
      expect(await fx.credit(rich)).toBe(16);
      // The same guard as every internal route, and a bound on the batch.
      expect((await batch("try", txs, { "x-forwarded-for": "203.0.113.9" })).status).toBe(404);
      expect((await batch("try", Array.from({ length: 65 }, () => ({ tx: txId(), user_id: rich, amount: 1 })))).status).toBe(400);
      expect(await fx.credit(rich)).toBe(16);
    });
  });
});
