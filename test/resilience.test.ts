// The order service's circuit breakers (a short outage waited out, a long one failed fast) and its
// bound on checkouts in flight, on real processes.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkoutBegun, metricSum, PROTOCOL, scrape, settled, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";
import { mapLimit } from "../tools/workload.js";
import { phaseName } from "@shardshop/orchestrator";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      MAX_INFLIGHT_CHECKOUTS: "2",
      // A stalled participant (SIGSTOP below) must not time a step out before the test resumes it.
      STEP_TIMEOUT_MS: "20000",
      // Checkouts left open by a test are finished within it (see settled), not during the next one.
      CHECKOUT_LEASE_MS: "1000",
      RECOVERY_INTERVAL_MS: "200",
    },
  });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

const orderMetrics = (s: TestStack = stack) => scrape(s.services.order[0]!);

describe("circuit breaker", () => {
  // The default retry budget (STEP_TIMEOUT_MS, 10 s) and a probe every 200 ms.
  let breakerStack: TestStack;
  let bx: ReturnType<typeof shop>;
  beforeAll(async () => {
    breakerStack = await startTestStack({ env: { BREAKER_FAILURES: "3", BREAKER_HALF_OPEN_MS: "200", CHECKOUT_LEASE_MS: "1000", RECOVERY_INTERVAL_MS: "200" } });
    bx = shop(breakerStack.api);
  });
  afterAll(() => breakerStack?.teardown());

  const breaker = async (participant: string) => metricSum(await orderMetrics(breakerStack), "shardshop_circuit_breaker_state", { participant });
  const charges = async () =>
    metricSum(await orderMetrics(breakerStack), "shardshop_saga_step_duration_seconds_count", { participant: "payment", step: phaseName(PROTOCOL, "try") });
  const stockDown = () => Promise.all(breakerStack.services.stock.map((c) => c.stop("SIGKILL")));
  const stockUp = () => Promise.all(breakerStack.services.stock.map((c) => c.start()));

  it("a short outage costs no checkout: they wait behind the open breaker and commit once stock is back", async () => {
    const item = await bx.item(1, 10);
    const users = await mapLimit(Array.from({ length: 3 }), 3, () => bx.user(1));
    const orders = await mapLimit(users, 3, (user) => bx.order(user, [[item, 1]]));
    await stockDown();
    const checkouts = orders.map((o) => breakerStack.api.post(`/orders/checkout/${o}`));
    await waitFor("stock's breaker open", async () => (await breaker("stock")) === 1, 20_000, 50);
    await stockUp();
    expect((await Promise.all(checkouts)).map((c) => c.status)).toEqual([200, 200, 200]);
    expect(await breaker("stock")).toBe(0);
    expect(await bx.stock(item)).toBe(7);
    expect(await mapLimit(users, 3, (u) => bx.credit(u))).toEqual([0, 0, 0]);
  });

  it("a long one: once stock has failed for the whole retry budget, checkouts are refused fast, taking nothing, until a probe finds it back", async () => {
    const item = await bx.item(1, 20);
    const users = await mapLimit(Array.from({ length: 3 }), 3, () => bx.user(1));
    const orders = await mapLimit(users, 3, (user) => bx.order(user, [[item, 1]]));
    await stockDown();
    // The first waits out the budget, then is rolled back.
    const waited = await breakerStack.api.post(`/orders/checkout/${orders[0]}`);
    expect(waited.status).toBe(424);
    expect(waited.body.error).toMatch(/could not be reached/);
    // Stock has now failed for the budget: the next is refused before anything is written or charged.
    const chargesBefore = await charges();
    const fast = await breakerStack.api.post(`/orders/checkout/${orders[1]}`);
    expect(fast.status).toBe(424);
    expect(fast.body.error).toMatch(/stock service is unavailable \(circuit open\)/);
    expect(Number(fast.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(await charges()).toBe(chargesBefore);
    expect(await bx.paid(orders[1]!)).toBe(false);

    await stockUp();
    // Reads skip the breaker: an order can be made while it is open (adding an item reads its price).
    const made = await bx.order(users[0]!, [[item, 1]]);
    expect((await breakerStack.api.get(`/orders/find/${made}`)).body.total_cost).toBe(1);
    // A probe finds stock back and closes it; checkouts commit again.
    const status = await waitFor("a checkout answered other than 424 (the probe let through)", async () => {
      const { status } = await breakerStack.api.post(`/orders/checkout/${orders[2]}`);
      return status !== 424 && status;
    }, 20_000, 100);
    expect(status).toBe(200);
    expect(await breaker("stock")).toBe(0);
    expect((await breakerStack.api.post(`/orders/checkout/${orders[1]}`)).status).toBe(200);
    // The refused ones took nothing; the rolled-back one is released by recovery.
    await settled(breakerStack);
    expect(await bx.stock(item)).toBe(18);
    expect(await mapLimit(users, 3, (u) => bx.credit(u))).toEqual([1, 0, 0]);
  });
});

describe("backpressure", () => {
  it("answers 429 with Retry-After beyond the in-flight bound, and takes nothing for it", async () => {
    const item = await fx.item(1, 100);
    const user = await fx.user(100);
    const orders = await mapLimit(Array.from({ length: 10 }), 5, () => fx.order(user, [[item, 1]]));
    const [stockProcess] = stack.services.stock;
    // A stalled participant keeps the first two checkouts in flight.
    stockProcess!.proc!.kill("SIGSTOP");
    let answers: Array<{ status: number; headers: Record<string, string | string[] | undefined> }>;
    try {
      const slow = orders.slice(0, 2).map((o) => stack.api.post(`/orders/checkout/${o}`));
      const inFlight = async () => metricSum(await orderMetrics(), "shardshop_checkouts_in_flight");
      await waitFor("two checkouts in flight", async () => (await inFlight()) >= 2, 10_000, 20);
      expect(await inFlight()).toBe(2);
      answers = await Promise.all(orders.slice(2).map((o) => stack.api.post(`/orders/checkout/${o}`)));
      stockProcess!.proc!.kill("SIGCONT");
      answers.push(...(await Promise.all(slow)));
    } finally {
      stockProcess!.proc!.kill("SIGCONT");
    }
    const rejected = answers.filter((a) => a.status === 429);
    expect(rejected.length).toBe(8);
    for (const r of rejected) expect(r.headers["retry-after"]).toBe("1");
    expect(answers.filter((a) => a.status === 200).length).toBe(2);
    expect(metricSum(await orderMetrics(), "shardshop_checkout_duration_seconds_count", { outcome: "rejected", reason: "overloaded" })).toBe(8);
    expect(await fx.stock(item)).toBe(98);
    expect(await fx.credit(user)).toBe(98);
    // A refused checkout left its order untouched: it can be checked out now.
    expect((await stack.api.post(`/orders/checkout/${orders[5]}`)).status).toBe(200);
  });
});

describe("an order being checked out", () => {
  it("cannot be changed or removed (409) until its checkout ends", async () => {
    const item = await fx.item(2, 10);
    const user = await fx.user(50);
    const order = await fx.order(user, [[item, 1]]);
    // Payment stalls the checkout; stock still answers, since adding an item reads its price.
    const [paymentProcess] = stack.services.payment;
    const orderShard = new Redis({ port: stack.redis.order[0]!.port, ...stack.redisAuth, lazyConnect: true });
    paymentProcess!.proc!.kill("SIGSTOP");
    try {
      const checkout = stack.api.post(`/orders/checkout/${order}`);
      // The transaction record is written before any participant is called.
      await checkoutBegun(orderShard, order);
      for (const change of [
        stack.api.post(`/orders/addItem/${order}/${item}`),
        stack.api.post(`/orders/removeItem/${order}/${item}`),
        stack.api.delete(`/orders/remove/${order}`),
      ]) {
        const answer = await change;
        expect(answer.status).toBe(409);
        expect(answer.body.error).toBe("order is being checked out and cannot change");
      }
      paymentProcess!.proc!.kill("SIGCONT");
      expect((await checkout).status).toBe(200);
    } finally {
      paymentProcess!.proc!.kill("SIGCONT");
      orderShard.disconnect();
    }
    expect((await stack.api.get(`/orders/find/${order}`)).body).toMatchObject({ paid: true, total_cost: 2, items: [[item, 1]] });
  });
});
