// A bad environment stops a service at once with one line naming the variable and the reason.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../local/stack.js";
import { waitFor } from "./helpers.js";

function boot(service: string, env: Record<string, string>) {
  const result = spawnSync(process.execPath, [`dist/${service}/main.js`], {
    env: { PATH: process.env.PATH, ...env },
    encoding: "utf8",
    timeout: 10_000,
  });
  return { code: result.status, lines: result.stderr.trim().split("\n") };
}

/** A key in a file, as Compose mounts it: read through INTERNAL_KEYS_FILE. */
const keyFile = join(mkdtempSync(join(tmpdir(), "shardshop-key-")), "internal-key");
writeFileSync(keyFile, `${"k".repeat(40)}\n`);

describe("configuration", () => {
  it.each([
    // The key read from its file: only the address is missing.
    ["stock", { INTERNAL_KEYS_FILE: keyFile }, /^stock: bad configuration: REDIS_ADDRS: missing$/],
    ["stock", {}, /^stock: bad configuration: REDIS_ADDRS: missing; INTERNAL_KEYS: missing$/],
    // No default key: without one, a service does not start.
    ["payment", { REDIS_ADDRS: "a:1" }, /^payment: bad configuration: INTERNAL_KEYS: missing$/],
    ["stock", { REDIS_ADDRS: "a:1", INTERNAL_KEYS: "short" }, /INTERNAL_KEYS.*at least 32 characters/],
    ["stock", { REDIS_ADDRS: "a:1", INTERNAL_KEYS_FILE: "/nonexistent/key" }, /^stock: bad configuration: .*\/nonexistent\/key/],
    ["order", { REDIS_ADDRS: "a:1", INTERNAL_KEYS: "k".repeat(32), STOCK_SERVICE_URL: "http://s:1", PAYMENT_SERVICE_URL: "http://p:1", STOCK_INTERNAL_KEY: "k".repeat(32) }, /PAYMENT_INTERNAL_KEY: missing/],
    ["payment", { REDIS_ADDRS: "localhost" }, /REDIS_ADDRS.*host:port/],
    ["stock", { REDIS_ADDRS: "a:1", PORT: "99999" }, /PORT/],
    ["stock", { REDIS_ADDRS: "a:1", MACHINE_ID: "3/2" }, /MACHINE_ID: i must be below N/],
    ["order", { REDIS_ADDRS: "a:1", PAYMENT_SERVICE_URL: "http://p:1" }, /STOCK_SERVICE_URL: missing/],
    ["order", { REDIS_ADDRS: "a:1", STOCK_SERVICE_URL: "ftp://s", PAYMENT_SERVICE_URL: "http://p:1" }, /STOCK_SERVICE_URL/],
    ["order", { REDIS_ADDRS: "a:1", STOCK_SERVICE_URL: "http://s:1", PAYMENT_SERVICE_URL: "http://p:1", FAULT_POINT: "x" }, /FAULT_POINT/],
  ])("%s with %j exits with one clear line", (service, env, message) => {
    const { code, lines } = boot(service, env as Record<string, string>);
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});

describe("npm start", () => {
  it("refuses a data folder made for another shard count, before starting anything", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "shardshop-layout-"));
    try {
      writeFileSync(join(dataDir, "layout.json"), JSON.stringify({ shards: 3 }));
      const result = spawnSync(process.execPath, ["dist/local/main.js"], {
        env: { PATH: process.env.PATH, SHARDS: "2", PORT: "1", DATA_DIR: dataDir },
        encoding: "utf8",
        timeout: 10_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toBe(`${dataDir} holds data for SHARDS=3; start with SHARDS=3, or remove the folder to start empty.`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("BATCH_INIT", () => {
  it.each([
    ["on", true],
    ["off", false],
  ])("%s: the batch_init routes are served and documented: %s", async (setting, served) => {
    const port = await freePort();
    // No Redis behind it: a served batch_init answers 503, one that is off a 404 without asking.
    const env = { PATH: process.env.PATH, REDIS_ADDRS: "127.0.0.1:1", REDIS_TIMEOUT_MS: "200", INTERNAL_KEYS: "k".repeat(32), BATCH_INIT: setting, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "silent" };
    const stock = spawn(process.execPath, ["dist/stock/main.js"], { env, stdio: "ignore" });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor("the stock service listening", () => fetch(`${base}/health`).then((r) => r.ok, () => false));
      const res = await fetch(`${base}/stock/batch_init/1/1/1`, { method: "POST" });
      expect(res.status).toBe(served ? 503 : 404);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const documented = Object.keys(((await (await fetch(`${base}/stock/openapi.json`)).json()) as { paths: object }).paths);
      expect(documented.some((p) => p.includes("batch_init"))).toBe(served);
    } finally {
      stock.kill();
    }
  });
});
