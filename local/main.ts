// `npm start`: the whole shop on this machine, gateway on http://localhost:8000. Ctrl-C stops it.
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { loadConfig, REDIS_MODES } from "../common/config.js";
import { startStack, stopOnSignals } from "./stack.js";

const config = loadConfig(
  "shardshop",
  z.object({
    /** shards: independent Redis masters per service; cluster: a Redis Cluster per service. */
    REDIS_MODE: z.enum(REDIS_MODES).default("shards"),
    /** Redis shards per service; in cluster mode the cluster's masters (at least 3, default 3). */
    SHARDS: z.coerce.number().int().min(1).max(64).optional(),
    /** Cluster mode: replicas per master. */
    REPLICAS: z.coerce.number().int().min(0).max(5).default(1),
    INSTANCES: z.coerce.number().int().min(1).max(16).default(1),
    PORT: z.coerce.number().int().min(1).max(65535).default(8000),
    DATA_DIR: z.string().default("data"),
    /** The built-in gateway, or a real nginx with the deployments' configuration. */
    GATEWAY: z.enum(["node", "nginx"]).default("node"),
  }),
);
const dataDir = resolve(config.DATA_DIR);
const cluster = config.REDIS_MODE === "cluster";
const shards = config.SHARDS ?? (cluster ? 3 : 1);
if (cluster && shards < 3) {
  console.error("a Redis Cluster needs at least 3 masters: SHARDS=3 or more");
  process.exit(1);
}

// Ids are routed by shard count: the data of a different count would be looked up on the wrong
// shards. A cluster keeps its own slot map, but its nodes cannot become plain shards.
mkdirSync(dataDir, { recursive: true });
const layoutFile = join(dataDir, "layout.json");
const layout = { shards, mode: config.REDIS_MODE, ...(cluster ? { replicas: config.REPLICAS } : {}) };
if (existsSync(layoutFile)) {
  const was = JSON.parse(readFileSync(layoutFile, "utf8")) as { shards: number; mode?: string; replicas?: number };
  const then = { shards: was.shards, mode: was.mode ?? "shards", ...(was.replicas === undefined ? {} : { replicas: was.replicas }) };
  if (JSON.stringify(then) !== JSON.stringify(layout)) {
    const env = `${then.mode === "cluster" ? "REDIS_MODE=cluster " : ""}SHARDS=${then.shards}${then.replicas === undefined ? "" : ` REPLICAS=${then.replicas}`}`;
    console.error(`${dataDir} holds data for ${env}; start with ${env}, or remove the folder to start empty.`);
    process.exit(1);
  }
}
writeFileSync(layoutFile, JSON.stringify(layout));

try {
  const stack = await startStack({
    shards,
    redisMode: config.REDIS_MODE,
    replicas: config.REPLICAS,
    instances: config.INSTANCES,
    dataDir,
    gatewayPort: config.PORT,
    gateway: config.GATEWAY,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "info" },
    output: "inherit",
  });
  // Where `npm run tx` finds an order instance, and the key its internal routes accept (this run's; the file is the user's alone).
  writeFileSync(join(dataDir, "stack.json"), JSON.stringify({ gateway: stack.url, order: stack.services.order.map((c) => c.url), orderKey: stack.secrets.internalKeys.order }), { mode: 0o600 });
  chmodSync(join(dataDir, "stack.json"), 0o600);
  console.log(
    `shardshop is up on ${stack.url} (${cluster ? `a Redis Cluster of ${shards} masters with ${config.REPLICAS} replica(s) each` : `${shards} redis shard(s)`} and ${config.INSTANCES} instance(s) per service, ${config.GATEWAY} gateway, data in ${dataDir}). Ctrl-C stops it.`,
  );
  stopOnSignals(async () => {
    console.log("stopping…");
    await stack.stop();
  }, 0);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
