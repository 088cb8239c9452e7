// `npm start`: the whole shop on this machine, gateway on http://localhost:8000. Ctrl-C stops it.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { loadConfig } from "../common/config.js";
import { startStack } from "./stack.js";

const config = loadConfig(
  "shardshop",
  z.object({
    SHARDS: z.coerce.number().int().min(1).max(64).default(1),
    INSTANCES: z.coerce.number().int().min(1).max(16).default(1),
    PORT: z.coerce.number().int().min(1).max(65535).default(8000),
    DATA_DIR: z.string().default("data"),
    /** The built-in gateway, or a real nginx with the deployments' configuration. */
    GATEWAY: z.enum(["node", "nginx"]).default("node"),
  }),
);
const dataDir = resolve(config.DATA_DIR);

// Ids are routed by shard count: the data of a different count would be looked up on the wrong shards.
mkdirSync(dataDir, { recursive: true });
const layoutFile = join(dataDir, "layout.json");
if (existsSync(layoutFile)) {
  const { shards } = JSON.parse(readFileSync(layoutFile, "utf8")) as { shards: number };
  if (shards !== config.SHARDS) {
    console.error(`${dataDir} holds data for SHARDS=${shards}; start with SHARDS=${shards}, or remove the folder to start empty.`);
    process.exit(1);
  }
}
writeFileSync(layoutFile, JSON.stringify({ shards: config.SHARDS }));

try {
  const stack = await startStack({
    shards: config.SHARDS,
    instances: config.INSTANCES,
    dataDir,
    gatewayPort: config.PORT,
    gateway: config.GATEWAY,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "info" },
    output: "inherit",
  });
  console.log(
    `shardshop is up on ${stack.url} (${config.SHARDS} redis shard(s) and ${config.INSTANCES} instance(s) per service, ${config.GATEWAY} gateway, data in ${dataDir}). Ctrl-C stops it.`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping…");
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
