// Environment parsing shared by all services: each service extends the base schema with its own
// variables, and a bad value stops the process with one line naming the variable and the reason.
import { z } from "zod";

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
  MACHINE_ID: machineId,
  /**
   * How long after its creation (a UUIDv7 id tells it) a transaction may still take part: a
   * participant refuses a try outside it, so what a finished transaction leaves behind expires
   * with it. Every service must agree on it; far longer than any checkout takes.
   */
  TX_WINDOW_MS: intFromEnv(10_000, 7 * 24 * 3600_000).default(600_000),
  /** How long an Idempotency-Key is remembered: a repeat within it applies nothing. At least a day in production. */
  IDEMPOTENCY_TTL_MS: intFromEnv(1000, 30 * 24 * 3600_000).default(24 * 3600_000),
  /**
   * How long a stopping service (SIGTERM) lets the requests it is serving finish before it exits
   * anyway: longer than a checkout's deadline, so none is cut off.
   */
  SHUTDOWN_TIMEOUT_MS: intFromEnv(0, 600_000).default(40_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type BaseConfig = z.infer<typeof baseConfig>;

/** Parses the environment or exits with a single line saying which variable is wrong and why. */
export function loadConfig<S extends z.ZodType>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  // Empty strings mean "unset": compose files and Helm values often render optional vars as "".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .map((i) => `${i.path.join(".") || "environment"}: ${i.code === "invalid_type" ? "missing" : i.message}`)
    .join("; ");
  process.stderr.write(`${service}: bad configuration: ${problems}\n`);
  process.exit(1);
}
