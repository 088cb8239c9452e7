import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";
import { ServiceApp } from "./server.js";
import { startTracing } from "./tracing.js";

const newApp = async () => new ServiceApp(await startTracing("test", {}), createLogger("test", "silent", "0/1"));

describe("internal routes", () => {
  it("added with serve are guarded: a proxied call is refused before the handler runs", async () => {
    const app = await newApp();
    let ran = 0;
    app.serve("POST", "/internal/test/step", (c) => (ran++, c.json({ status: "done" })));
    expect(() => app.assertInternalRoutesGuarded()).not.toThrow();

    const direct = await app.request("/internal/test/step", { method: "POST", headers: { "content-length": "2" }, body: "{}" });
    expect(direct.status).toBe(200);
    const proxied = await app.request("/internal/test/step", { method: "POST", headers: { "x-forwarded-for": "10.0.0.1", "content-length": "2" }, body: "{}" });
    expect(proxied.status).toBe(404);
    expect(await proxied.json()).toEqual({ error: "not found" });
    expect(ran).toBe(1);
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
