// Metrics, request and trace ids, OTLP traces and the OpenAPI documents, on real processes.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricSum, PROTOCOL, rawHttp, scrape, settled, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";
import { phaseName } from "@shardshop/orchestrator";
import { phaseRoute } from "@shardshop/orchestrator/http";

/** What the compose profile's redis_exporter exposes and our queries use. */
const EXPORTER_METRICS = ["redis_up", "redis_commands_processed_total", "redis_memory_used_bytes", "redis_memory_max_bytes"];
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`;

describe("metrics, ids and API documents", () => {
  let stack: TestStack;
  let fx: ReturnType<typeof shop>;

  beforeAll(async () => {
    stack = await startTestStack({ env: { LOG_LEVEL: "debug" } });
    fx = shop(stack.api);
  });
  afterAll(() => stack?.teardown());

  it("moves the checkout, saga, HTTP and Redis metrics after a commit and after an abort", async () => {
    const user = await fx.user(100);
    const plenty = await fx.item(3, 10);
    const scarce = await fx.item(1, 1);
    const good = await fx.order(user, [[plenty, 2]]);
    const short = await fx.order(user, [[scarce, 5]]);
    const [order] = stack.services.order;
    const [stock] = stack.services.stock;
    const before = await scrape(order!);
    const stockBefore = await scrape(stock!);

    expect((await stack.api.post(`/orders/checkout/${good}`)).status).toBe(200);
    expect((await stack.api.post(`/orders/checkout/${short}`)).status).toBe(400);
    await settled(stack); // the commit's confirms go out after its answer, batched

    const after = await scrape(order!);
    const delta = (name: string, labels: Record<string, string>, text = after, was = before) =>
      metricSum(text, name, labels) - metricSum(was, name, labels);
    expect(delta("shardshop_checkout_duration_seconds_count", { outcome: "committed" })).toBe(1);
    expect(delta("shardshop_checkout_duration_seconds_count", { outcome: "aborted", reason: "stock" })).toBe(1);
    expect(delta("shardshop_checkout_duration_seconds_count", { outcome: "aborted", reason: "credit" })).toBe(0);
    expect(delta("shardshop_saga_step_duration_seconds_count", { participant: "stock", step: phaseName(PROTOCOL, "try"), result: "done" })).toBe(1);
    expect(delta("shardshop_saga_step_duration_seconds_count", { participant: "stock", step: phaseName(PROTOCOL, "try"), result: "refused" })).toBe(1);
    // The refused reservation held nothing; the charge that went through was refunded.
    expect(delta("shardshop_saga_step_duration_seconds_count", { participant: "payment", step: phaseName(PROTOCOL, "cancel"), result: "done" })).toBe(1);
    // The commit's confirm went out, and its record was closed.
    expect(delta("shardshop_saga_step_duration_seconds_count", { participant: "stock", step: phaseName(PROTOCOL, "confirm"), result: "done" })).toBe(1);
    const checkoutRoute = { route: "/orders/checkout/:order_id" };
    expect(delta("shardshop_http_request_duration_seconds_count", { ...checkoutRoute, status: "200" })).toBe(1);
    expect(delta("shardshop_http_request_duration_seconds_count", { ...checkoutRoute, status: "400" })).toBe(1);
    expect(delta("shardshop_redis_command_duration_seconds_count", { shard: "0", command: "beginCheckout" })).toBe(2);
    expect(delta("shardshop_redis_command_duration_seconds_count", { shard: "0", command: "commitTx" })).toBe(1);
    expect(delta("shardshop_redis_command_duration_seconds_count", { shard: "0", command: "settleTx" })).toBe(1);
    expect(metricSum(after, "shardshop_checkouts_in_flight")).toBe(0);
    expect(metricSum(after, "shardshop_checkout_transactions", { state: "open" })).toBe(0);
    expect(metricSum(after, "shardshop_circuit_breaker_state", { participant: "stock" })).toBe(0);
    expect(metricSum(after, "shardshop_redis_shard_up", { shard: "0" })).toBe(1);
    expect(metricSum(after, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(after).toMatch(/service="order"/);

    const stockAfter = await scrape(stock!);
    expect(delta("shardshop_http_request_duration_seconds_count", { route: phaseRoute("stock", PROTOCOL, "try"), status: "200" }, stockAfter, stockBefore)).toBe(1);
    expect(delta("shardshop_http_request_duration_seconds_count", { route: phaseRoute("stock", PROTOCOL, "try"), status: "409" }, stockAfter, stockBefore)).toBe(1);
  });

  it("labels unmatched paths as one route, so hostile URLs make no new series", async () => {
    const [stock] = stack.services.stock;
    for (let i = 0; i < 5; i++) await fetch(`${stock!.url}/nothing/here/${i}`);
    const text = await scrape(stock!);
    expect(metricSum(text, "shardshop_http_request_duration_seconds_count", { route: "unmatched", status: "404" })).toBeGreaterThanOrEqual(5);
    expect(text).not.toMatch(/nothing\/here/);
  });

  it("serves /metrics on each service but never through the gateway or a proxy", async () => {
    for (const service of ["order", "stock", "payment"] as const) {
      const res = await fetch(`${stack.services[service][0]!.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    }
    const viaGateway = await stack.api.get("/metrics");
    expect(viaGateway.status).toBe(404);
    const proxied = await fetch(`${stack.services.order[0]!.url}/metrics`, { headers: { "x-forwarded-for": "10.0.0.1" } });
    expect(proxied.status).toBe(404);
  });

  it("carries the caller's request id and trace id onto every service's log lines", async () => {
    const user = await fx.user(10);
    const item = await fx.item(1, 5);
    const order = await fx.order(user, [[item, 1]]);
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const sent = Date.now();
    const res = await fetch(`${stack.url}/orders/checkout/${order}`, {
      method: "POST",
      headers: { traceparent: traceparent(traceId), "x-request-id": "checkout-under-test" },
    });
    expect(res.status).toBe(200);
    const linesOf = (name: string) =>
      readFileSync(join(stack.dataDir, `${name}.log`), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l));
    // Each service's line for its part of this checkout, found by path and time rather than by the
    // ids under test (nothing else runs meanwhile), must carry both ids.
    const parts = { "order-0": `/orders/checkout/${order}`, "stock-0": phaseRoute("stock", PROTOCOL, "try"), "payment-0": phaseRoute("payment", PROTOCOL, "try") };
    for (const [name, path] of Object.entries(parts)) {
      const ours = () => linesOf(name).filter((l) => l.msg === "request" && l.path === path && l.time >= sent);
      // pino writes asynchronously: wait for the line.
      await waitFor(`${name}'s log line for the checkout`, () => ours().length > 0, 10_000);
      expect(ours(), name).toHaveLength(1);
      expect(ours()[0], name).toMatchObject({ trace: traceId, req: "checkout-under-test", status: 200 });
      // And no line of this trace carries another request id.
      expect(linesOf(name).filter((l) => l.trace === traceId).every((l) => l.req === "checkout-under-test"), name).toBe(true);
    }
  });

  it("documents every public route in an OpenAPI 3 document per service, with a Swagger UI", async () => {
    const expected: Record<string, string[]> = {
      orders: [
        "post /orders/create/{user_id}",
        "post /orders/batch_init/{n}/{n_items}/{n_users}/{item_price}",
        "get /orders/find/{order_id}",
        "post /orders/addItem/{order_id}/{item_id}/{quantity}",
        "post /orders/addItem/{order_id}/{item_id}",
        "post /orders/removeItem/{order_id}/{item_id}/{quantity}",
        "delete /orders/removeItem/{order_id}/{item_id}/{quantity}",
        "post /orders/removeItem/{order_id}/{item_id}",
        "delete /orders/removeItem/{order_id}/{item_id}",
        "post /orders/remove/{order_id}",
        "delete /orders/remove/{order_id}",
        "post /orders/checkout/{order_id}",
      ],
      stock: [
        "post /stock/item/create/{price}",
        "post /stock/batch_init/{n}/{starting_stock}/{item_price}",
        "get /stock/find/{item_id}",
        "post /stock/add/{item_id}/{amount}",
        "post /stock/subtract/{item_id}/{amount}",
      ],
      payment: [
        "post /payment/create_user",
        "post /payment/batch_init/{n}/{starting_money}",
        "get /payment/find_user/{user_id}",
        "post /payment/add_funds/{user_id}/{amount}",
        "post /payment/pay/{user_id}/{amount}",
        "post /payment/pay/{user_id}/{order_id}/{amount}",
        "post /payment/cancel/{user_id}/{order_id}",
        "get /payment/status/{user_id}/{order_id}",
        "post /payment/status/{user_id}/{order_id}",
      ],
    };
    for (const [prefix, routes] of Object.entries(expected)) {
      const { status, body: doc } = await stack.api.get(`/${prefix}/openapi.json`);
      expect(status).toBe(200);
      expect(doc.openapi).toMatch(/^3\./);
      const documented = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method} ${path}`),
      );
      expect(documented.sort()).toEqual([...routes].sort());
      expect(documented.some((r) => r.includes("/internal/"))).toBe(false);
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        for (const [method, op] of Object.entries(ops)) {
          const where = `${method} ${path}`;
          // Every path parameter is described, with the pattern or type that validates it; the one
          // header is the optional Idempotency-Key (test/idempotency.test.ts checks where).
          const names = [...path.matchAll(/\{(\w+)\}/g)].map(([, n]) => n);
          const inPath = (op.parameters ?? []).filter((p: any) => p.in === "path");
          expect(inPath.map((p: any) => p.name).sort(), where).toEqual(names.sort());
          for (const p of inPath) expect(p.required && p.schema?.type === "string", where).toBe(true);
          for (const p of op.parameters ?? []) if (p.in !== "path") expect([p.in, p.name, p.required ?? false], where).toEqual(["header", "idempotency-key", false]);
          expect(op.responses["200"]?.content?.["application/json"]?.schema, where).toBeDefined();
          for (const [code, response] of Object.entries(op.responses as Record<string, any>)) {
            if (code !== "200") expect(response.content["application/json"].schema.$ref, `${where} ${code}`).toBe("#/components/schemas/Error");
          }
          if (names.length) expect(op.responses["400"], where).toBeDefined();
        }
      }
      const ui = await fetch(`${stack.url}/${prefix}/docs`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toMatch(new RegExp(`/${prefix}/openapi.json`));
    }
    // The id pattern in the document is the one that validates: a bad id is refused with the documented shape.
    const { body: doc } = await stack.api.get("/stock/openapi.json");
    const pattern = doc.paths["/stock/find/{item_id}"].get.parameters[0].schema.pattern;
    expect(new RegExp(pattern).test("bad id!")).toBe(false);
    const refused = await stack.api.get("/stock/find/bad%20id!");
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.body)).toEqual(["error"]);
  });

  it("has a dashboard and alert rules that query only metrics the system exposes", async () => {
    const exposed = new Set<string>(EXPORTER_METRICS);
    for (const service of ["order", "stock", "payment"] as const) {
      // Declared metrics, including those with no sample yet (an error counter, say).
      for (const [, name, type] of (await scrape(stack.services[service][0]!)).matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
        for (const suffix of type === "histogram" ? ["_bucket", "_count", "_sum"] : [""]) exposed.add(`${name}${suffix}`);
      }
    }
    const dashboard = JSON.parse(readFileSync("observability/grafana/dashboards/shardshop.json", "utf8"));
    const queries: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    const rules = readFileSync("observability/alerts.yml", "utf8");
    for (const [where, text] of [...queries.map((q) => ["dashboard", q]), ["alerts.yml", rules]] as const) {
      for (const [name] of text.matchAll(/\b(?:shardshop|process|nodejs|redis)_\w+/g)) expect(exposed.has(name), `${where}: ${name}`).toBe(true);
    }
    expect(queries.length).toBeGreaterThanOrEqual(12);
  });

  it("answers a malformed traceparent or request id by ignoring it: a fresh trace, which is also the request id", async () => {
    const [stock] = stack.services.stock;
    const path = "/stock/find/malformed-ids-probe";
    const answer = await rawHttp(
      stock!.port,
      `GET ${path} HTTP/1.1\r\nHost: x\r\ntraceparent: 00-zz-yy-01\r\nx-request-id: ${"x".repeat(500)}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 404/);
    const ours = () =>
      readFileSync(join(stack.dataDir, "stock-0.log"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .filter((l) => l.msg === "request" && l.path === path);
    await waitFor("stock-0's log line for the probe", () => ours().length > 0, 10_000);
    const [line] = ours();
    expect(line.trace).toMatch(/^[0-9a-f]{32}$/);
    expect(line.req).toBe(line.trace);
  });

  it("labels every series of every service with its service and machine", async () => {
    for (const service of ["order", "stock", "payment"] as const) {
      const samples = (await scrape(stack.services[service][0]!)).split("\n").filter((l) => l && !l.startsWith("#"));
      expect(samples.length, service).toBeGreaterThan(20);
      for (const sample of samples) expect(sample, service).toMatch(new RegExp(`\\{(.*,)?service="${service}",(.*,)?machine="0/1"[,}]|\\{(.*,)?machine="0/1",(.*,)?service="${service}"[,}]`));
    }
  });
});

describe("OTLP traces", () => {
  let stack: TestStack;
  let collector: Server;
  const spans: Array<{ service: string; traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number }> = [];

  beforeAll(async () => {
    // A stand-in OTLP/HTTP collector: the exporter posts JSON to /v1/traces.
    collector = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        const payload = JSON.parse(body);
        for (const rs of payload.resourceSpans ?? []) {
          const service = rs.resource.attributes.find((a: any) => a.key === "service.name")?.value.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ service, ...s });
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const { port } = collector.address() as { port: number };
    stack = await startTestStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: "100" } });
  });
  afterAll(async () => {
    await stack?.teardown();
    collector?.close();
  });

  it("records one trace across order, stock and payment for a checkout", async () => {
    const fx = shop(stack.api);
    const user = await fx.user(10);
    const item = await fx.item(2, 5);
    const order = await fx.order(user, [[item, 1]]);
    const res = await fetch(`${stack.url}/orders/checkout/${order}`, { method: "POST", headers: { traceparent: traceparent(TRACE_ID) } });
    expect(res.status).toBe(200);

    const ours = () => spans.filter((s) => s.traceId === TRACE_ID);
    // Each service exports its spans in batches as they end, so a participant's can come before the
    // order service's: wait for the server span of each of the three, and the parent of each
    // participant's.
    const complete = () => {
      const servers = ours().filter((s) => s.kind === 2);
      return new Set(servers.map((s) => s.service)).size === 3 && servers.every((s) => s.service === "order" || ours().some((p) => p.spanId === s.parentSpanId));
    };
    await waitFor("the checkout's server spans from all three services, with their parents", complete, 30_000, 100);
    const trace = ours();
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(["order", "stock", "payment"]));
    // The checkout's server span continues the caller's span, and each participant's server span is
    // the child of one of the order service's client spans.
    const checkoutSpan = trace.find((s) => s.service === "order" && s.kind === 2)!;
    expect(checkoutSpan.parentSpanId).toBe("00f067aa0ba902b7");
    for (const service of ["stock", "payment"]) {
      const server = trace.find((s) => s.service === service && s.kind === 2)!;
      const client = trace.find((s) => s.spanId === server.parentSpanId)!;
      expect(client, service).toBeDefined();
      expect(client.service).toBe("order");
      expect(client.kind).toBe(3);
      expect(client.parentSpanId).toBe(checkoutSpan.spanId);
    }
  });
});
