// The compose deployment's two small containers, run for real here: the engine filter (a real nginx
// with deploy/engine-filter.conf, in front of a stand-in engine on a unix socket) lets the watchdog
// read events, inspect and start containers, and nothing else; the secrets script (bash, as the
// `secrets` container runs it) makes every key once, keeps them on the next start, and writes ACL
// files a real redis-server takes.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretsScript } from "../deploy/compose.js";
import { Component, freePort, redisPing } from "../local/stack.js";
import { HEALTH_USER } from "../deploy/redis-acl.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "shardshop-compose-parts-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the engine filter", () => {
  let engine: Server;
  let nginx: Component;
  const seen: string[] = [];

  beforeAll(async () => {
    const socket = join(dir, "docker.sock");
    engine = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    const port = await freePort();
    // Its temp files, pid, log, socket and port moved here; every rule as it is.
    const conf = readFileSync("deploy/engine-filter.conf", "utf8")
      .replaceAll("/tmp/", `${dir}/`)
      .replace("unix:/var/run/docker.sock", `unix:${socket}`)
      .replace("listen 2375;", `listen 127.0.0.1:${port};`)
      .replace("error_log /dev/stderr", `error_log ${dir}/error.log`);
    writeFileSync(join(dir, "filter.conf"), conf);
    const answers = () => fetch(`http://127.0.0.1:${port}/_ping`).then((r) => r.ok, () => false);
    nginx = new Component("engine-filter", port, "nginx", ["-c", join(dir, "filter.conf")], {}, answers, join(dir, "nginx.log"));
    await nginx.start();
  });
  afterAll(async () => {
    await nginx?.stop("SIGQUIT");
    engine?.close();
  });

  it.each([
    ["GET", "/events?filters=%7B%7D"],
    ["GET", "/v1.43/events"],
    ["GET", "/containers/4f1c2e/json"],
    ["POST", "/v1.43/containers/main_stock-0_1/start"],
  ])("lets through %s %s", async (method, path) => {
    const res = await fetch(`${nginx.url}${path}`, { method });
    expect(res.status).toBe(200);
    expect(seen.at(-1)).toBe(`${method} ${path}`);
  });

  it.each([
    ["POST", "/containers/create"],
    ["POST", "/v1.43/containers/create?name=x"],
    ["POST", "/containers/4f1c2e/exec"],
    ["POST", "/containers/4f1c2e/kill"],
    ["DELETE", "/containers/4f1c2e"],
    ["POST", "/containers/4f1c2e/json"],
    ["GET", "/containers/4f1c2e/start"],
    ["GET", "/images/json"],
    ["POST", "/volumes/create"],
    ["GET", "/containers/json"],
    ["GET", "/containers/../images/json"],
    ["GET", "/containers/a%2F..%2F..%2Fimages/json"],
  ])("refuses %s %s without asking the engine", async (method, path) => {
    const before = seen.length;
    const res = await fetch(`${nginx.url}${path}`, { method });
    expect(res.status).toBe(403);
    expect(seen.length).toBe(before);
  });
});

describe("the secrets script", () => {
  /** Runs the script as the secrets container does, with its folders under `root`. */
  function run(root: string): void {
    const script = secretsScript(["redis-order-0:6379", "redis-stock-0:6379"]).replace("cd /secrets", `cd ${root}/secrets`).replaceAll(" /out/", ` ${root}/out/`).replaceAll("=/out/", `=${root}/out/`);
    const done = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(done.status, done.stderr).toBe(0);
  }

  it("makes every key once, keeps them on the next start, and hands each container only its own", async () => {
    const root = join(dir, "secrets-run");
    for (const d of ["secrets", ...["order", "stock", "payment", "grafana", "exporter"].map((s) => `out/secrets-${s}`), ...["order", "stock", "payment"].map((s) => `out/redis-acl-${s}`)]) {
      mkdirSync(join(root, d), { recursive: true });
    }
    run(root);
    const read = (path: string) => readFileSync(join(root, "out", path), "utf8");
    const first = { stock: read("secrets-stock/internal-key"), orderCopy: read("secrets-order/stock-internal-key"), acl: read("redis-acl-stock/users.acl") };
    expect(first.stock).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.orderCopy).toBe(first.stock);
    expect(read("secrets-payment/internal-key")).not.toBe(first.stock);
    // What each service's volume holds: its own key and password (the order service's, the participants' keys too).
    expect(execFileSync("ls", [join(root, "out/secrets-stock")], { encoding: "utf8" }).split("\n").filter(Boolean)).toEqual(["internal-key", "redis-password"]);
    expect(statSync(join(root, "out/secrets-stock/internal-key")).mode & 0o777).toBe(0o400);
    expect(first.acl).not.toContain(read("secrets-stock/redis-password"));
    run(root);
    expect([read("secrets-stock/internal-key"), read("redis-acl-stock/users.acl")]).toEqual([first.stock, first.acl]);

    // The ACL file it wrote, on a real redis-server: the service's password works, nobody else's.
    const port = await freePort();
    const redis = new Component("redis", port, "redis-server", ["--port", String(port), "--aclfile", join(root, "out/redis-acl-stock/users.acl"), "--dir", root, "--save", ""], {}, () => redisPing(port), "ignore");
    await redis.start();
    try {
      const as = (user: string, password: string) => new Redis({ port, username: user, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      const stock = as("stock", read("secrets-stock/redis-password"));
      expect(await stock.call("eval", "return redis.call('SET', KEYS[1], 1)", "1", "item:{1}")).toBe("OK");
      stock.disconnect();
      const wrong = as("stock", read("secrets-payment/redis-password"));
      wrong.on("error", () => {});
      await expect(wrong.ping()).rejects.toThrow(/WRONGPASS/);
      wrong.disconnect();
      const exporter = JSON.parse(read("secrets-exporter/passwords.json")) as Record<string, string>;
      const metrics = as("metrics", exporter["redis://redis-stock-0:6379"]!);
      expect(await metrics.info("memory")).toMatch(/maxmemory:/);
      await expect(metrics.get("item:{1}")).rejects.toThrow(/NOPERM/);
      metrics.disconnect();
      const health = as(HEALTH_USER, "x");
      expect(await health.ping()).toBe("PONG");
      health.disconnect();
    } finally {
      await redis.stop();
    }
  });
});
