import { describe, expect, it } from "vitest";
import { AUTH_HEADER, newKey, RequestSigner, RequestVerifier } from "./internal-auth.js";
import { createLogger } from "./log.js";
import { internalAuthRefusals } from "./metrics.js";
import { ServiceApp } from "./server.js";
import { startTracing } from "./tracing.js";

const key = newKey();
const newApp = async () => new ServiceApp(await startTracing("test", {}), createLogger("test", "silent", "0/1"), new RequestVerifier("test", [key]));
const signed = (body: string, extra: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-length": String(body.length), [AUTH_HEADER]: new RequestSigner("test", key).sign("POST", "/internal/test/step", body), ...extra },
  body,
});
const refusals = async (reason: string) => (await internalAuthRefusals.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe("internal routes", () => {
  it("added with serve are guarded: a proxied call is refused before the handler runs", async () => {
    const app = await newApp();
    let ran = 0;
    app.serve("POST", "/internal/test/step", (c) => (ran++, c.json({ status: "done" })));
    expect(() => app.assertInternalRoutesGuarded()).not.toThrow();

    const direct = await app.request("/internal/test/step", signed("{}"));
    expect(direct.status).toBe(200);
    const proxied = await app.request("/internal/test/step", signed("{}", { "x-forwarded-for": "10.0.0.1" }));
    expect(proxied.status).toBe(404);
    expect(await proxied.json()).toEqual({ error: "not found" });
    expect(ran).toBe(1);
  });

  it("answer only a caller with a valid credential: anything else is a counted 401, and the handler never runs", async () => {
    const app = await newApp();
    let ran = 0;
    app.serve("POST", "/internal/test/step", async (c) => (ran++, c.json(await c.req.json())));
    const before = { missing: await refusals("missing"), bad: await refusals("bad_signature"), replayed: await refusals("replayed") };

    const unsigned = await app.request("/internal/test/step", { method: "POST", headers: { "content-length": "2" }, body: "{}" });
    expect([unsigned.status, (await unsigned.json()).error]).toEqual([401, expect.stringMatching(/authenticated caller/)]);
    const wrongKey = signed('{"a":1}', { [AUTH_HEADER]: new RequestSigner("test", newKey()).sign("POST", "/internal/test/step", '{"a":1}') });
    expect((await app.request("/internal/test/step", wrongKey)).status).toBe(401);
    // Signed for one body, sent with another.
    const tampered = { ...signed('{"a":1}'), body: '{"a":2}' };
    expect((await app.request("/internal/test/step", tampered)).status).toBe(401);
    const good = signed('{"a":3}');
    const first = await app.request("/internal/test/step", good);
    expect([first.status, await first.json()]).toEqual([200, { a: 3 }]);
    expect((await app.request("/internal/test/step", good)).status).toBe(401);

    expect(ran).toBe(1);
    expect(await refusals("missing")).toBe(before.missing + 1);
    expect(await refusals("bad_signature")).toBe(before.bad + 2);
    expect(await refusals("replayed")).toBe(before.replayed + 1);
  });

  it.each([
    ["a plain post", (app: ServiceApp) => app.post("/internal/test/step", (c) => c.json({}))],
    ["a middleware", (app: ServiceApp) => app.use("/internal/*", async (_, next) => next())],
  ])("added as %s stop the boot", async (_, add) => {
    const app = await newApp();
    app.serve("POST", "/internal/test/other", (c) => c.json({}));
    add(app);
    expect(() => app.assertInternalRoutesGuarded()).toThrow(/must be added with ServiceApp.serve/);
  });
});
