// The trust boundary, on real processes and real Redis, as an attacker on the service network
// would meet it: internal routes answer only a caller signing with the key the service accepts
// (not none, not a wrong one, not another service's, not a copy of a signed request, not an old
// one), and each service's Redis takes only that service's user, for only its commands and keys.
// Also: REDIS_DB reaches every client, and a full Redis answers a 503 that says so.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_HEADER, AUTH_WINDOW_MS, newKey, RequestSigner } from "../common/internal-auth.js";
import { SERVICES, type Service } from "../common/services.js";
import { HEALTH_USER } from "../deploy/redis-acl.js";
import { newTxId, type Phase, TX_PROTOCOLS } from "@shardshop/orchestrator";
import { batchRoute, phaseRoute } from "@shardshop/orchestrator/http";
import { OPERATOR_ROUTE } from "../order/operator.js";
import { metricSum, scrape, settled, shop, startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({ shards: 2, env: { REDIS_DB: "3" } });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

/** A connection to a node of `service`'s Redis as `user` (none: the default user), errors kept quiet. */
function connectAs(service: Service, user?: string, password?: string): Redis {
  const r = new Redis({ port: stack.redis[service][0]!.port, username: user, password, db: 3, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => {});
  return r;
}

describe("internal routes", () => {
  /** Every internal phase route of a participant, single and batch, with a body it would apply. */
  const routes = (service: "stock" | "payment", part: object) =>
    TX_PROTOCOLS.flatMap((protocol) => [
      ...(["try", "cancel"] as const).flatMap((phase) => [
        { path: phaseRoute(service, protocol, phase), body: { tx: newTxId(), ...part } },
        { path: batchRoute(service, protocol, phase), body: { txs: [{ tx: newTxId(), ...part }] } },
      ]),
      { path: phaseRoute(service, protocol, "confirm" as Phase), body: { txs: [{ tx: newTxId(), ...part }] } },
    ]);

  const post = (service: Service, path: string, payload: string, auth?: string) =>
    fetch(`${stack.services[service][0]!.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth === undefined ? {} : { [AUTH_HEADER]: auth }) },
      body: payload,
    });

  it("refuse every call without a valid credential, apply nothing, and count each refusal", async () => {
    const item = await fx.item(1, 100);
    const user = await fx.user(100);
    const targets = [
      ...routes("stock", { items: [[item, 100]] }).map((r) => ({ service: "stock" as const, ...r })),
      ...routes("payment", { user_id: user, amount: 100 }).map((r) => ({ service: "payment" as const, ...r })),
    ];
    const before = { stock: await scrape(stack.services.stock[0]!), payment: await scrape(stack.services.payment[0]!) };
    const credentials: Record<string, (service: "stock" | "payment", path: string, payload: string) => string | undefined> = {
      none: () => undefined,
      garbled: () => "v1 soon",
      "a wrong key": (service, path, payload) => new RequestSigner(service, newKey()).sign("POST", path, payload),
      "the other participant's key": (service, path, payload) => {
        const other = service === "stock" ? "payment" : "stock";
        return new RequestSigner(service, stack.secrets.internalKeys[other]).sign("POST", path, payload);
      },
      "its own key, made for the other participant": (service, path, payload) =>
        new RequestSigner(service === "stock" ? "payment" : "stock", stack.secrets.internalKeys[service]).sign("POST", path, payload),
      "an old signature": (service, path, payload) => new RequestSigner(service, stack.secrets.internalKeys[service]).sign("POST", path, payload, Date.now() - AUTH_WINDOW_MS - 5000),
    };
    let sent = 0;
    for (const [name, credential] of Object.entries(credentials)) {
      for (const { service, path, body } of targets) {
        const payload = JSON.stringify(body);
        const res = await post(service, path, payload, credential(service, path, payload));
        expect([name, path, res.status]).toEqual([name, path, 401]);
        expect((await res.json()).error).toMatch(/authenticated caller/);
        sent++;
      }
    }
    expect(sent).toBe(6 * 20);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([100, 100]);
    const after = { stock: await scrape(stack.services.stock[0]!), payment: await scrape(stack.services.payment[0]!) };
    const refused = (s: "stock" | "payment") =>
      metricSum(after[s], "shardshop_internal_auth_refusals_total") - metricSum(before[s], "shardshop_internal_auth_refusals_total");
    expect(refused("stock") + refused("payment")).toBe(sent);
  });

  it("apply a signed call once, and refuse the very same request sent again", async () => {
    const item = await fx.item(1, 10);
    const path = phaseRoute("stock", "saga", "try");
    const payload = JSON.stringify({ tx: newTxId(), items: [[item, 3]] });
    const auth = new RequestSigner("stock", stack.secrets.internalKeys.stock).sign("POST", path, payload);
    expect((await post("stock", path, payload, auth)).status).toBe(200);
    expect(await fx.stock(item)).toBe(7);
    // Replayed as is, and replayed with the body changed: both refused, nothing applied again.
    expect((await post("stock", path, payload, auth)).status).toBe(401);
    const other = JSON.stringify({ tx: newTxId(), items: [[item, 7]] });
    expect((await post("stock", path, other, auth)).status).toBe(401);
    expect(await fx.stock(item)).toBe(7);
    expect(metricSum(await scrape(stack.services.stock[0]!), "shardshop_internal_auth_refusals_total", { reason: "replayed" })).toBeGreaterThanOrEqual(1);
  });

  it("include the operator's routes on the order service", async () => {
    const url = `${stack.services.order[0]!.url}${OPERATOR_ROUTE}`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(`${url}/0/resolve`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
    const signed = await fetch(url, { headers: { [AUTH_HEADER]: new RequestSigner("order", stack.secrets.internalKeys.order).sign("GET", OPERATOR_ROUTE) } });
    expect(signed.status).toBe(200);
    // The participants' keys are not the order service's.
    const withStockKey = await fetch(url, { headers: { [AUTH_HEADER]: new RequestSigner("order", stack.secrets.internalKeys.stock).sign("GET", OPERATOR_ROUTE) } });
    expect(withStockKey.status).toBe(401);
  });
});

describe("each service's Redis", () => {
  it("serves a whole checkout through the services' own users, with every key in REDIS_DB", async () => {
    const item = await fx.item(2, 5);
    const user = await fx.user(10);
    const order = await fx.order(user, [[item, 1]]);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect([await fx.stock(item), await fx.credit(user), await fx.paid(order)]).toEqual([4, 8, true]);
    await settled(stack);
    const keyCount = async (db: number) => {
      let total = 0;
      for (const shard of stack.all().filter((c) => c.name.includes("redis"))) {
        const r = new Redis({ port: shard.port, ...stack.redisAuth, db, lazyConnect: true });
        total += await r.dbsize();
        r.disconnect();
      }
      return total;
    };
    expect(await keyCount(3)).toBeGreaterThanOrEqual(5); // item, user, order, its items, markers
    expect(await keyCount(0)).toBe(0);
  });

  it("lets a client with no credential do nothing, and the health user only PING", async () => {
    for (const service of SERVICES) {
      const anonymous = connectAs(service);
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
      anonymous.disconnect();
      await expect(connectAs(service, "default", "").ping()).rejects.toThrow(/WRONGPASS|invalid|disabled/i);
      const health = connectAs(service, HEALTH_USER, "anything");
      expect(await health.ping()).toBe("PONG");
      await expect(health.call("get", "item:{1}")).rejects.toThrow(/NOPERM/);
      await expect(health.call("eval", "return 1", "0")).rejects.toThrow(/NOPERM/);
      health.disconnect();
    }
  });

  it("keeps every acknowledged write across a SIGKILL of the node: the AOF replays in full under the ACL", async () => {
    const item = await fx.item(1, 10);
    const user = await fx.user(10);
    const order = await fx.order(user, [[item, 1]]);
    for (const node of SERVICES.flatMap((s) => stack.redis[s])) {
      await node.stop("SIGKILL");
      await node.start();
    }
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([10, 10]);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect([await fx.stock(item), await fx.credit(user), await fx.paid(order)]).toEqual([9, 9, true]);
  });

  it("refuses each service's user any command it does not send, and every other service's Redis", async () => {
    const own: Record<Service, string> = { order: "order:{x}", stock: "item:{x}", payment: "user:{x}" };
    for (const service of SERVICES) {
      const r = connectAs(service, service, stack.secrets.redis[service].service);
      // What it does send works: a script on its own keys, a read of them.
      expect(await r.call("eval", "return redis.call('EXISTS', KEYS[1])", "1", own[service])).toBe(0);
      for (const forbidden of [["flushall"], ["config", "get", "maxmemory"], ["keys", "*"], ["debug", "sleep", "0"], ["shutdown", "nosave"], ["module", "list"], ["scan", "0"], ["acl", "list"]]) {
        // (DEBUG is refused by the server before the ACL is asked.)
        await expect(r.call(forbidden[0]!, ...forbidden.slice(1)), `${service}: ${forbidden.join(" ")}`).rejects.toThrow(/NOPERM|DEBUG command not allowed/);
      }
      for (const other of SERVICES.filter((s) => s !== service)) {
        // Another service's data lives on its own Redis, where this service's password is no password.
        const elsewhere = connectAs(other, service, stack.secrets.redis[service].service);
        await expect(elsewhere.ping(), `${service} on ${other}'s Redis`).rejects.toThrow(/WRONGPASS|invalid username-password/i);
        elsewhere.disconnect();
      }
      r.disconnect();
    }
    // The replication user follows a master and does nothing else.
    const replica = connectAs("stock", "replica", stack.secrets.redis.stock.replication);
    await expect(replica.call("get", "item:{x}")).rejects.toThrow(/NOPERM/);
    replica.disconnect();
  });

  it("answers a write past its maxmemory with a 503 that says so, and applies none of it", async () => {
    const item = await fx.item(1, 10);
    const admins = stack.redis.stock.map((c) => new Redis({ port: c.port, ...stack.redisAuth }));
    try {
      for (const r of admins) await r.config("SET", "maxmemory", "1");
      const created = await stack.api.post("/stock/item/create/5");
      expect([created.status, created.body.error]).toEqual([503, expect.stringMatching(/storage is full/)]);
      const added = await stack.api.post(`/stock/add/${item}/5`);
      expect([added.status, added.body.error]).toEqual([503, expect.stringMatching(/storage is full/)]);
      // Reads still answer, and show nothing changed.
      expect(await fx.stock(item)).toBe(10);
    } finally {
      for (const r of admins) {
        await r.config("SET", "maxmemory", "0");
        r.disconnect();
      }
    }
    expect((await stack.api.post(`/stock/add/${item}/5`)).status).toBe(200);
    expect(await fx.stock(item)).toBe(15);
  });
});
