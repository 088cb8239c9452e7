// Both gateways, the local one and a real nginx running the configuration deploy/nginx.ts renders
// for every deployment: only public routes pass, both loopback addresses answer, and a checkout
// whose order instance dies mid-request is answered by another instance, not with a 502, as is every
// other change: under the client's Idempotency-Key, or else the gateway's own retry key, so that
// none applies twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Component } from "../local/stack.js";
import { client, metricSum, rawHttp, scrape, shop, startTestStack, unreadConnections, waitFor, type TestStack } from "./helpers.js";

describe.each(["node", "nginx"] as const)("%s gateway", (gateway) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      gateway,
      instances: 2,
      // order-0 dies in the middle of every checkout it drives; order-1 then finishes it.
      envFor: (service, i) => (service === "order" && i === 0 ? { FAULT_POINT: "after-steps" } : undefined),
      env: { CHECKOUT_LEASE_MS: "1000", RECOVERY_INTERVAL_MS: "200" },
    });
  });
  afterAll(() => stack?.teardown());
  const port = () => Number(new URL(stack.url).port);

  /**
   * Waits until the gateway sends requests to `victim` again: after a failure it skips an instance
   * for a while (nginx's fail_timeout), and a test that stops it needs requests to reach it.
   */
  async function routedTo(victim: Component, item: string): Promise<void> {
    const finds = async () => metricSum(await scrape(victim), "shardshop_http_request_duration_seconds_count", { route: "/stock/find/:item_id" });
    await waitFor(`the gateway to route to ${victim.name} again`, async () => {
      const before = await finds();
      for (const _ of stack.services.stock) await stack.api.get(`/stock/find/${item}`);
      return (await finds()) > before;
    }, 30_000, 200);
  }

  /** Runs `during` while `victim` is stopped (SIGSTOP), then kills it and starts it again. */
  async function stoppedThenKilled<T>(victim: Component, during: () => Promise<T>): Promise<T> {
    victim.proc!.kill("SIGSTOP");
    try {
      return await during();
    } finally {
      await victim.stop("SIGKILL");
      await victim.start();
    }
  }

  it("routes the public API", async () => {
    const fx = shop(stack.api);
    const item = await fx.item(3, 4);
    expect((await stack.api.get(`/stock/find/${item}`)).body).toEqual({ stock: 4, price: 3 });
    expect((await stack.api.post("/payment/create_user")).status).toBe(200);
  });

  it("never exposes internal or health routes, however the path is spelled", async () => {
    for (const path of [
      "/internal/stock/saga/step",
      "/stock/../internal/stock/saga/step",
      "/stock/%2e%2e/internal/stock/saga/step",
      "/stock/%2E%2E/internal/stock/saga/step",
      "/payment/..%2finternal/payment/charge",
      "/stock/..%5cinternal/stock/reserve",
      "/stock/..\\internal/stock/reserve",
      "//internal/stock/saga/step",
      "/health",
      "/ready",
      "/",
    ]) {
      // Sent exactly as written: fetch or undici would normalise the path first.
      const body = '{"tx":"t","items":[["0",1]]}';
      const reply = await rawHttp(port(), `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      expect(reply, path).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(reply.toLowerCase(), path).toContain("content-type: application/json");
      expect(reply, path).not.toMatch(/"status":"(done|refused)"/);
    }
  });

  it("answers malformed HTTP with a JSON 4xx", async () => {
    for (const request of [
      "GET /stock/find/1 HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
      "BLAH\r\n\r\n",
      `GET /stock/find/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`,
    ]) {
      const reply = await rawHttp(port(), request);
      expect(reply, request.slice(0, 40)).toMatch(/^HTTP\/1\.[01] 4\d\d/);
      expect(reply.toLowerCase()).toContain("content-type: application/json");
      expect(reply).toMatch(/\{"error":"[^"]+"\}/);
    }
  });

  it("answers on IPv6 loopback too", async () => {
    const ipv6 = client(`http://[::1]:${port()}`);
    expect((await ipv6.post("/payment/create_user")).status).toBe(200);
    await ipv6.close();
  });

  it("hands a checkout to another order instance when the first dies mid-request", async () => {
    const fx = shop(stack.api);
    const item = await fx.item(2, 10);
    let deaths = 0;
    for (const credit of [10, 1, 10, 1, 10, 1, 10, 1]) {
      const user = await fx.user(credit);
      const order = await fx.order(user, [[item, 1]]);
      const stockBefore = await fx.stock(item);
      // Round-robin sends about half of the checkouts to order-0 first; each answer must be real.
      const reply = await stack.api.post(`/orders/checkout/${order}`);
      expect(reply.status).toBe(credit >= 2 ? 200 : 400);
      expect(await fx.paid(order)).toBe(credit >= 2);
      expect(await fx.stock(item)).toBe(credit >= 2 ? stockBefore - 1 : stockBefore);
      expect(await fx.credit(user)).toBe(credit >= 2 ? credit - 2 : credit);
      const victim = stack.services.order[0]!;
      if (!victim.running) {
        deaths++;
        await victim.start();
      }
    }
    expect(deaths).toBeGreaterThan(0);
  });

  it("re-sends every other change under its own key: one whose instance died with it in flight is answered by another, and applied once", async () => {
    const fx = shop(stack.api);
    const item = await fx.item(1, 0);
    const victim = stack.services.stock[0]!;
    await routedTo(victim, item);
    const [adds, creates] = await stoppedThenKilled(victim, async () => {
      // Round-robin hands about half of these to the stopped instance, where they wait unanswered.
      // A client's own retry-key header is replaced by the gateway's: the same one on every add
      // must not make them one request.
      const adds = Array.from({ length: 8 }, () => stack.api.post(`/stock/add/${item}/1`, { "x-shardshop-retry-key": "mine" }));
      const creates = Array.from({ length: 4 }, () => stack.api.post(`/stock/item/create/3`));
      await waitFor("a request waiting at the stopped instance", () => unreadConnections(victim.port) > 0);
      await victim.stop("SIGKILL");
      return [await Promise.all(adds), await Promise.all(creates)];
    });
    expect(adds.map((a) => a.status)).toEqual(adds.map(() => 200));
    expect(await fx.stock(item)).toBe(8);
    // Each creation answers an item that exists, and they are four.
    expect(creates.map((c) => c.status)).toEqual(creates.map(() => 200));
    const ids = new Set(creates.map((c) => c.body.item_id as string));
    expect(ids.size).toBe(4);
    for (const id of ids) expect((await stack.api.get(`/stock/find/${id}`)).body).toEqual({ stock: 0, price: 3 });
  });

  it("re-sends a POST that carries an Idempotency-Key to another instance when the first dies with it: applied once", async () => {
    const fx = shop(stack.api);
    const item = await fx.item(1, 0);
    const victim = stack.services.stock[0]!;
    const keys = Array.from({ length: 8 }, (_, i) => `gateway-${gateway}-${item}-${i}`);
    await routedTo(victim, item);
    const answers = await stoppedThenKilled(victim, async () => {
      const adds = keys.map((key) => stack.api.post(`/stock/add/${item}/1`, { "idempotency-key": key }));
      await waitFor("an add waiting at the stopped instance", () => unreadConnections(victim.port) > 0);
      await victim.stop("SIGKILL");
      return Promise.all(adds);
    });
    expect(answers.map((a) => a.status)).toEqual(keys.map(() => 200));
    expect(await fx.stock(item)).toBe(8);
    // Each one's repeat now is a replay: nothing more is added.
    for (const key of keys) expect((await stack.api.post(`/stock/add/${item}/1`, { "idempotency-key": key })).status).toBe(200);
    expect(await fx.stock(item)).toBe(8);
  });
});
