// A transaction that cannot finish is parked, visible and resolvable. To make one, a checkout is
// killed after its tries (a fault point) and stock's marker is then set to "confirmed" by hand:
// the bug nobody foresaw. The recovery sweep aborts it (too little credit), stock refuses the
// cancel for good, and past PARK_AFTER_MS the transaction is parked: the order answers 409 naming
// it, a metric counts it, the sweep leaves it be, and `npm run tx` lists it with each
// participant's last answer. Once the marker is put right, `npm run tx -- retry` finishes it; a
// second one is closed by hand with `resolve`.
import { spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricSum, PROTOCOL, scrape, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;
let orders: Redis;
let stock: Redis;

beforeAll(async () => {
  stack = await startTestStack({ env: { PARK_AFTER_MS: "1000", CHECKOUT_LEASE_MS: "1000", RECOVERY_INTERVAL_MS: "200" } });
  fx = shop(stack.api);
  orders = new Redis({ port: stack.redis.order[0]!.port, ...stack.redisAuth });
  stock = new Redis({ port: stack.redis.stock[0]!.port, ...stack.redisAuth });
});
afterAll(async () => {
  orders?.disconnect();
  stock?.disconnect();
  await stack?.teardown();
});

const instance = () => stack.services.order[0]!;
const tx = (...args: string[]) =>
  spawnSync("node", ["dist/tools/tx.js", ...args, "--url", instance().url], { encoding: "utf8", env: { ...process.env, ORDER_INTERNAL_KEY: stack.secrets.internalKeys.order } });

/** An order of 2 units of a fresh item (stock 10) for a user with too little credit, its checkout parked as above. */
async function parkedCheckout(): Promise<{ order: string; item: string; user: string; txId: string }> {
  const [item, user] = [await fx.item(3, 10), await fx.user(1)];
  const order = await fx.order(user, [[item, 2]]);
  instance().env.FAULT_POINT = "after-steps";
  await instance().stop();
  await instance().start();
  const crashed = await fetch(`${instance().url}/orders/checkout/${order}`, { method: "POST" }).then(
    (r) => `answered ${r.status}`,
    () => "crashed",
  );
  expect(crashed).toBe("crashed");
  const txId = (await orders.hget(`order:{${order}}`, "tx"))!;
  expect(await stock.get(`item:{${item}}:tx:${txId}`)).toBe(`${PROTOCOL}:2`);
  await stock.set(`item:{${item}}:tx:${txId}`, `${PROTOCOL}:c`);
  delete instance().env.FAULT_POINT;
  await instance().start();
  await waitFor(`order ${order}'s checkout to be parked`, async () => (await orders.hget(`order:{${order}}`, "tx_parked")) === "1");
  return { order, item, user, txId };
}

const sweeps = async () => metricSum(await scrape(instance()), "shardshop_redis_command_duration_seconds_count", { command: "pendingTransactions" });

describe("a transaction that cannot finish", () => {
  it("is parked: the order answers 409 naming it, a metric counts it, the sweep leaves it, and an operator lists it, fixes it and retries it", async () => {
    const { order, item, user, txId } = await parkedCheckout();

    const answer = await stack.api.post(`/orders/checkout/${order}`);
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(new RegExp(`checkout of order ${order} is parked`));
    expect((await stack.api.post(`/orders/addItem/${order}/${item}`)).status).toBe(409);
    expect(metricSum(await scrape(instance()), "shardshop_checkout_transactions", { state: "parked" })).toBe(1);

    // The sweep leaves it for the park interval: many sweeps pass, and no drive is added.
    const failures = await orders.hget(`order:{${order}}`, "tx_failures");
    const from = await sweeps();
    await waitFor("ten more recovery sweeps", async () => (await sweeps()) >= from + 10);
    expect(await orders.hget(`order:{${order}}`, "tx_failures")).toBe(failures);

    const list = tx("list");
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/1 parked/);
    expect(list.stdout).toContain(`PARKED ${order}  ${PROTOCOL} aborting (insufficient_credit)`);
    expect(list.stdout).toContain("stock=refused: confirmed");
    expect(list.stdout).toContain(txId);
    expect(tx("show", order).stdout).toContain(`PARKED ${order}`);
    const json = JSON.parse(tx("show", order, "--json").stdout);
    expect(json).toMatchObject({ subject: order, tx: txId, state: "aborting", parked: true, last_outcomes: expect.stringContaining("stock=refused: confirmed") });

    // The operator puts stock's marker right (it holds the 2 units again) and retries.
    await stock.set(`item:{${item}}:tx:${txId}`, `${PROTOCOL}:2`);
    const retried = tx("retry", order);
    expect(retried.stderr).toBe("");
    expect(retried.stdout).toContain(`${order}: aborted (insufficient_credit); closed`);
    expect(await fx.stock(item)).toBe(10);
    expect(await stock.hget(`item:{${item}}`, "held")).toBe(PROTOCOL === "2pc" ? "0" : null);
    expect(metricSum(await scrape(instance()), "shardshop_checkout_transactions", { state: "parked" })).toBe(0);
    expect(tx("show", order).status).toBe(1);
    expect(tx("retry", order).stderr).toMatch(/no parked transaction/);

    // The order is the user's again.
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(400);
    expect((await stack.api.post(`/payment/add_funds/${user}/5`)).status).toBe(200);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.stock(item)).toBe(8);
  });

  it("can be resolved by hand once its participants were settled by hand, and its order is usable again", async () => {
    const { order, item, txId } = await parkedCheckout();
    // By hand: stock gets its 2 units back and the marker says cancelled.
    await stock.hincrby(`item:{${item}}`, "stock", 2);
    if (PROTOCOL === "2pc") await stock.hincrby(`item:{${item}}`, "held", -2);
    await stock.set(`item:{${item}}:tx:${txId}`, `${PROTOCOL}:x`);
    const resolved = tx("resolve", order);
    expect(resolved.stdout).toContain(`${order}: resolved by hand and closed`);
    expect(await orders.hget(`order:{${order}}`, "tx")).toBeNull();
    expect(await orders.hget(`order:{${order}}`, "last_outcome")).toBe("insufficient_credit");
    expect(await orders.zscore("checkouts:parked", order)).toBeNull();
    expect((await stack.api.post(`/orders/removeItem/${order}/${item}/1`)).status).toBe(200);
    expect(await fx.stock(item)).toBe(10);
  });
});
