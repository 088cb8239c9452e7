// Unknown outcomes, for real: a Redis shard or a process stopped with SIGSTOP (it holds its
// connections open and answers nothing) past the timeouts, then resumed with SIGCONT, when what
// was sent to it meanwhile runs after all. Stock and credit stay exact, and nothing sent twice is
// applied twice.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Component } from "../local/stack.js";
import { accepts, checkoutBegun, client, metricSum, scrape, settled, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;
/**
 * The checkout deadline of this stack: short, so that waiting past it is quick, and long enough
 * that a checkout whose stall ends 2.5 s into it has the rest to finish in on a busy machine.
 */
const DEADLINE_MS = 8000;

beforeAll(async () => {
  stack = await startTestStack({
    instances: 2,
    env: {
      REDIS_TIMEOUT_MS: "300",
      STEP_TIMEOUT_MS: "1000",
      CHECKOUT_LEASE_MS: "1000",
      CHECKOUT_DEADLINE_MS: String(DEADLINE_MS),
      // Longer than the 60 s step timeout one test gives an instance (the order service refuses a
      // window its driver's retried tries do not fit in).
      TX_WINDOW_MS: "120000",
      RECOVERY_INTERVAL_MS: "200",
      BREAKER_FAILURES: "1000",
    },
  });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

/**
 * Runs `during` while the components are stopped (SIGSTOP), and always resumes them: after
 * `resumeAfterMs` if given (while `during` still runs), else once it ended.
 */
async function stalled<T>(components: Component[], during: () => Promise<T>, resumeAfterMs?: number): Promise<T> {
  const resume = () => {
    for (const c of components) c.proc!.kill("SIGCONT");
  };
  for (const c of components) c.proc!.kill("SIGSTOP");
  const timer = resumeAfterMs === undefined ? undefined : setTimeout(resume, resumeAfterMs);
  try {
    return await during();
  } finally {
    clearTimeout(timer);
    resume();
  }
}

/** An order of two units of an item at 3, for a user with credit 20: a checkout takes 2 units and 6. */
async function newOrder(): Promise<{ item: string; user: string; order: string }> {
  const item = await fx.item(3, 10);
  const user = await fx.user(20);
  return { item, user, order: await fx.order(user, [[item, 2]]) };
}

describe("a stalled Redis shard", () => {
  it("reads as down on /ready and in shardshop_redis_shard_up while it does not answer, and as up again after", async () => {
    const stock = stack.services.stock[0]!;
    const shardUp = async () => metricSum(await scrape(stock), "shardshop_redis_shard_up", { shard: "0" });
    expect((await fetch(`${stock.url}/ready`)).status).toBe(200);
    await stalled([stack.redis.stock[0]!], async () => {
      expect((await fetch(`${stock.url}/ready`)).status).toBe(503);
      expect(await shardUp()).toBe(0);
    });
    await waitFor("/ready to answer 200 again", async () => (await fetch(`${stock.url}/ready`)).status === 200, 10_000, 100);
    expect(await shardUp()).toBe(1);
  });

  it("behind stock: the step's outcome is unknown, so it is compensated, and the reserve that runs late is taken back", async () => {
    const { item, user, order } = await newOrder();
    const answer = await stalled([stack.redis.stock[0]!], () => stack.api.post(`/orders/checkout/${order}`));
    // Stock never answered: rolled back, whatever ran on the shard once it resumed.
    expect(answer.status).toBe(424);
    await settled(stack);
    expect(await fx.paid(order)).toBe(false);
    expect(await fx.stock(item)).toBe(10);
    expect(await fx.credit(user)).toBe(20);
    // The order can be checked out afresh.
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([8, 14]);
  });

  it("behind the order itself, back within the deadline: the checkout answers its real outcome, applied once", async () => {
    const { item, user, order } = await newOrder();
    // Stalled longer than the Redis timeout, the lease and the step timeout together.
    const answer = await stalled([stack.redis.order[0]!], () => stack.api.post(`/orders/checkout/${order}`), 2500);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    await settled(stack);
    expect(await fx.paid(order)).toBe(true);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([8, 14]);
  });

  it("behind the order itself past the deadline: 503 (undecided), then recovery finishes the checkout exactly once", async () => {
    const { item, user, order } = await newOrder();
    const answer = await stalled([stack.redis.order[0]!], () => stack.api.post(`/orders/checkout/${order}`));
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatch(/not known yet/);
    await settled(stack);
    // Either way, paid exactly when the stock and the credit were taken, once.
    const paid = await fx.paid(order);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual(paid ? [8, 14] : [10, 20]);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([8, 14]);
  });
});

describe("a killed order shard", () => {
  it("restarted within the deadline: checkouts sent while it is down answer their real outcome, never a 5xx", async () => {
    const orders = await Promise.all(Array.from({ length: 6 }, () => newOrder()));
    const shard = stack.redis.order[0]!;
    await shard.stop("SIGKILL");
    const answers = Promise.all(orders.map(({ order }) => stack.api.post(`/orders/checkout/${order}`)));
    const inFlight = async () => (await Promise.all(stack.services.order.map(scrape))).reduce((n, text) => n + metricSum(text, "shardshop_checkouts_in_flight"), 0);
    await waitFor("all six checkouts in flight at the order instances while their shard is down", async () => (await inFlight()) === orders.length);
    await shard.start();
    for (const a of await answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    await settled(stack);
    for (const { item, user, order } of orders) {
      expect(await fx.paid(order)).toBe(true);
      expect([await fx.stock(item), await fx.credit(user)]).toEqual([8, 14]);
    }
  });
});

describe("a stalled participant", () => {
  it("past STEP_TIMEOUT_MS: the charge is unknown and refunded, and the one it runs late is refused", async () => {
    const { item, user, order } = await newOrder();
    // Both payment instances stop, so no retry can reach a live one.
    const answer = await stalled(stack.services.payment, () => stack.api.post(`/orders/checkout/${order}`));
    expect(answer.status).toBe(424);
    await settled(stack);
    expect(await fx.paid(order)).toBe(false);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([10, 20]);
  });
});

describe("an order instance stopped with SIGTERM", () => {
  it("answers the checkouts it is driving before it exits", async () => {
    const { item, user, order } = await newOrder();
    const [first] = stack.services.order as [Component];
    // This instance waits on payment for as long as the test holds it: the stop, not a step
    // timeout, is under test.
    const stepTimeout = first.env.STEP_TIMEOUT_MS!;
    await first.stop();
    first.env.STEP_TIMEOUT_MS = "60000";
    await first.start();
    const orderShard = new Redis({ port: stack.redis.order[0]!.port, ...stack.redisAuth, lazyConnect: true });
    const firstApi = client(first.url);
    try {
      const answer = await stalled(stack.services.payment, async () => {
        const pending = firstApi.post(`/orders/checkout/${order}`);
        await checkoutBegun(orderShard, order);
        const exited = new Promise<number | null>((resolve) => first.proc!.once("exit", resolve));
        first.proc!.kill("SIGTERM");
        // Stopping, it takes no new connection while it still drives the checkout.
        await waitFor("the stopping instance to close its listener", async () => !(await accepts(first.port)), 10_000, 20);
        for (const p of stack.services.payment) p.proc!.kill("SIGCONT");
        const answered = await pending;
        // Once its answer is out the stop goes on (not waiting out the client's keep-alive until
        // SHUTDOWN_TIMEOUT_MS forces an exit with 1), and ends cleanly.
        return { answered, code: await exited };
      });
      expect(answer.answered.status, JSON.stringify(answer.answered.body)).toBe(200);
      expect(answer.code).toBe(0);
      expect([await fx.stock(item), await fx.credit(user)]).toEqual([8, 14]);
    } finally {
      orderShard.disconnect();
      await firstApi.close();
      first.env.STEP_TIMEOUT_MS = stepTimeout;
      await first.stop();
      await first.start();
    }
  });
});

describe("two live drivers of one checkout", () => {
  it("the one that stalled past its lease changes nothing when it resumes; the other finished the checkout", async () => {
    const { item, user, order } = await newOrder();
    const [first, second] = stack.services.order as [Component, Component];
    const orderShard = new Redis({ port: stack.redis.order[0]!.port, ...stack.redisAuth, lazyConnect: true });
    const payments = stack.services.payment;
    // Reads go straight to live instances: the gateway would hand some to the stopped one.
    const [orderApi, stockApi, paymentApi] = [client(second.url), client(stack.services.stock[0]!.url), client(payments[0]!.url)];
    const direct = shop(orderApi);
    const stockOf = async () => (await stockApi.get(`/stock/find/${item}`)).body.stock as number;
    const creditOf = async () => (await paymentApi.get(`/payment/find_user/${user}`)).body.credit as number;
    try {
      // Payment holds the saga mid-step while the first driver is stopped with its charge in flight.
      for (const p of payments) p.proc!.kill("SIGSTOP");
      const firstApi = client(first.url);
      const late = firstApi.post(`/orders/checkout/${order}`).finally(() => firstApi.close());
      await checkoutBegun(orderShard, order);
      const recoveries = async () => metricSum(await scrape(second), "shardshop_checkout_recoveries_total");
      const recoveredBefore = await recoveries();
      first.proc!.kill("SIGSTOP");
      for (const p of payments) p.proc!.kill("SIGCONT");
      // The lease runs out and the second instance takes the transaction over and ends it.
      await settled(stack);
      const taken = [await stockOf(), await creditOf()];
      const paid = await direct.paid(order);
      expect(taken).toEqual(paid ? [8, 14] : [10, 20]);
      expect(await recoveries()).toBe(recoveredBefore + 1);

      // The first driver resumes: whatever it sends now is a replay or a lost race.
      first.proc!.kill("SIGCONT");
      const answer = await late;
      // It answers the real outcome, which the other instance decided.
      if (paid) expect(answer.status).toBe(200);
      else expect(answer.status >= 400 && answer.status < 500, String(answer.status)).toBe(true);
      await settled(stack);
      expect(await fx.paid(order)).toBe(paid);
      expect([await fx.stock(item), await fx.credit(user)]).toEqual(taken);
      expect(second.running).toBe(true);
    } finally {
      for (const p of payments) p.proc!.kill("SIGCONT");
      first.proc!.kill("SIGCONT");
      orderShard.disconnect();
      await Promise.all([orderApi, stockApi, paymentApi].map((c) => c.close()));
    }
  });
});
