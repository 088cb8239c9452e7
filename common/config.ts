// Environment parsing shared by all services: each service extends the base schema with its own
// variables, and a bad value stops the process with one line naming the variable and the reason.
import { readFileSync } from "node:fs";
import { DEFAULT_TX_WINDOW_MS } from "@shardshop/orchestrator";
import { z } from "zod";
import { MIN_KEY_LENGTH } from "./internal-auth.js";

const hostPort = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:,[\]]+):\d{1,5}$/, "expected host:port");

/** A comma-separated list, trimmed, empty entries dropped. */
export const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item).min(1, "expected at least one entry"));

export const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });

const machineId = z
  .string()
  .regex(/^\d+\/\d+$/, "expected i/N, e.g. 0/3")
  .refine((s) => {
    const [i, n] = s.split("/").map(Number) as [number, number];
    return n >= 1 && i < n;
  }, "i must be below N")
  .default("0/1");

/** A secret key (internal-auth.ts): long enough that guessing it is hopeless. */
export const secretKey = z.string().min(MIN_KEY_LENGTH, `expected at least ${MIN_KEY_LENGTH} characters`);

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Where a service keeps its data: independent Redis shards, or a Redis Cluster (REDIS_MODE). */
export const REDIS_MODES = ["shards", "cluster"] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

export const baseConfig = z.object({
  PORT: intFromEnv(1, 65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  /**
   * shards: REDIS_ADDRS are independent masters, one per shard, that ids are routed over by
   * keyslot (the shard count is fixed for the data's life). cluster: REDIS_ADDRS are seed nodes of
   * a Redis Cluster, which routes by slot itself and can move slots and fail over to replicas.
   */
  REDIS_MODE: z.enum(REDIS_MODES).default("shards"),
  REDIS_ADDRS: commaList(hostPort),
  /** The ACL user this service is on its Redis (each service has its own); unset: the default user. */
  REDIS_USER: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_DB: intFromEnv(0, 15).default(0),
  /** How long a Redis command may take before its outcome is treated as unknown. */
  REDIS_TIMEOUT_MS: intFromEnv(50, 60_000).default(3000),
  /**
   * Cluster mode: how many replicas must have a script's writes (WAIT) before it counts as done;
   * fewer within REDIS_WAIT_TIMEOUT_MS makes its outcome unknown. Shards have no replicas: unused.
   */
  REDIS_MIN_REPLICAS_ACKED: intFromEnv(0, 5).default(1),
  REDIS_WAIT_TIMEOUT_MS: intFromEnv(10, 60_000).default(1000),
  /**
   * How long a public request keeps retrying a Redis call while its shard cannot serve (restarting,
   * loading its AOF, failing over): a read, or a keyed change, whatever failed; any other change
   * only when it certainly did not run. Past it the request answers 503.
   */
  STORAGE_RETRY_MS: intFromEnv(0, 55_000).default(10_000),
  MACHINE_ID: machineId,
  /**
   * The keys this service accepts on its internal routes (internal-auth.ts): one, or two while one
   * is being rotated out. The callers sign with the one named by their <SERVICE>_INTERNAL_KEY.
   */
  INTERNAL_KEYS: commaList(secretKey).refine((keys) => keys.length <= 2, "at most two keys: the current one and the next"),
  /**
   * How long after its creation (a UUIDv7 id tells it) a transaction may still take part: a
   * participant refuses a try outside it, so what a finished transaction leaves behind expires
   * with it. Every service must agree on it; far longer than any checkout takes.
   */
  TX_WINDOW_MS: intFromEnv(10_000, 7 * 24 * 3600_000).default(DEFAULT_TX_WINDOW_MS),
  /** How long an Idempotency-Key is remembered: a repeat within it applies nothing. At least a day in production. */
  IDEMPOTENCY_TTL_MS: intFromEnv(1000, 30 * 24 * 3600_000).default(24 * 3600_000),
  /**
   * How long a stopping service (SIGTERM) lets the requests it is serving finish before it exits
   * anyway: longer than a checkout's deadline, so none is cut off.
   */
  SHUTDOWN_TIMEOUT_MS: intFromEnv(0, 600_000).default(40_000),
  /**
   * on: the batch_init routes, which the benchmark loads its data with (and which overwrite
   * entities), are served. off: they answer 404, for a shop that is not a benchmark's target.
   */
  BATCH_INIT: z.enum(["on", "off"]).default("on"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type BaseConfig = z.infer<typeof baseConfig>;

/**
 * The environment with `NAME_FILE` read into `NAME` for each variable the schema knows (and the
 * environment does not set itself): how secrets mounted as files reach a service.
 */
function withFiles(schema: z.ZodType, env: Record<string, string>): Record<string, string> {
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const read = known.flatMap((name) => {
    const file = env[`${name}_FILE`];
    return file === undefined || env[name] !== undefined ? [] : [[name, readFileSync(file, "utf8").trim()] as const];
  });
  return { ...env, ...Object.fromEntries(read) };
}

/**
 * Parses the environment or exits with a single line saying which variable is wrong and why.
 * `NAME_FILE` gives a variable's value as a file's content.
 */
export function loadConfig<S extends z.ZodType>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  // Empty strings mean "unset": compose files and Helm values often render optional vars as "".
  let cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")) as Record<string, string>;
  try {
    cleaned = withFiles(schema, cleaned);
  } catch (err) {
    process.stderr.write(`${service}: bad configuration: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .map((i) => `${i.path.join(".") || "environment"}: ${i.code === "invalid_type" ? "missing" : i.message}`)
    .join("; ");
  process.stderr.write(`${service}: bad configuration: ${problems}\n`);
  process.exit(1);
}
