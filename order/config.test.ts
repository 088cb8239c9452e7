import { describe, expect, it } from "vitest";
import { orderConfig } from "./config.js";

const key = (c: string) => c.repeat(32);
const valid = {
  REDIS_ADDRS: "127.0.0.1:6379",
  STOCK_SERVICE_URL: "http://stock:8080",
  PAYMENT_SERVICE_URL: "http://payment:8080",
  INTERNAL_KEYS: key("o"),
  STOCK_INTERNAL_KEY: key("s"),
  PAYMENT_INTERNAL_KEY: key("p"),
};

/** Every numeric variable the order service reads (the base ones every service reads among them). */
const NUMERIC = [
  "PORT",
  "REDIS_DB",
  "REDIS_TIMEOUT_MS",
  "REDIS_MIN_REPLICAS_ACKED",
  "REDIS_WAIT_TIMEOUT_MS",
  "STORAGE_RETRY_MS",
  "STEP_TIMEOUT_MS",
  "STEP_ATTEMPTS",
  "STEP_ATTEMPT_TIMEOUT_MS",
  "SETTLE_TIMEOUT_MS",
  "SETTLE_ATTEMPTS",
  "CONFIRM_DELAY_MS",
  "TX_WINDOW_MS",
  "BREAKER_FAILURES",
  "BREAKER_HALF_OPEN_MS",
  "MAX_INFLIGHT_CHECKOUTS",
  "CHECKOUT_LEASE_MS",
  "CHECKOUT_DEADLINE_MS",
  "SHUTDOWN_TIMEOUT_MS",
  "IDEMPOTENCY_TTL_MS",
  "RECOVERY_INTERVAL_MS",
  "PARK_AFTER_MS",
  "PARK_RETRY_MS",
];
const OTHERS = ["HOST", "REDIS_MODE", "REDIS_ADDRS", "REDIS_USER", "REDIS_PASSWORD", "INTERNAL_KEYS", "STOCK_INTERNAL_KEY", "PAYMENT_INTERNAL_KEY", "BATCH_INIT", "MACHINE_ID", "LOG_LEVEL", "STOCK_SERVICE_URL", "PAYMENT_SERVICE_URL", "FAULT_POINT", "TX_PROTOCOL"];

describe("order configuration", () => {
  it("has defaults for everything but the addresses", () => {
    const config = orderConfig.parse(valid);
    expect(config).toMatchObject({ PORT: 8080, REDIS_DB: 0, STEP_ATTEMPTS: 200, STEP_TIMEOUT_MS: 10_000, STEP_ATTEMPT_TIMEOUT_MS: 2000, CHECKOUT_LEASE_MS: 3000, MAX_INFLIGHT_CHECKOUTS: 1000 });
  });

  it("runs the saga unless told otherwise, and refuses an unknown protocol or fault point", () => {
    expect(orderConfig.parse(valid).TX_PROTOCOL).toBe("saga");
    expect(orderConfig.parse({ ...valid, TX_PROTOCOL: "2pc" }).TX_PROTOCOL).toBe("2pc");
    expect(orderConfig.safeParse({ ...valid, TX_PROTOCOL: "3pc" }).success).toBe(false);
    expect(orderConfig.parse({ ...valid, FAULT_POINT: "after-payment" }).FAULT_POINT).toBe("after-payment");
    expect(orderConfig.safeParse({ ...valid, FAULT_POINT: "after-lunch" }).success).toBe(false);
  });

  it("keeps its data on shards unless told it is a Redis Cluster, and refuses any other mode", () => {
    expect(orderConfig.parse(valid).REDIS_MODE).toBe("shards");
    expect(orderConfig.parse({ ...valid, REDIS_MODE: "cluster" }).REDIS_MODE).toBe("cluster");
    expect(orderConfig.safeParse({ ...valid, REDIS_MODE: "sentinel" }).success).toBe(false);
  });

  it("has no default key: each must be given, long enough, and at most two accepted at once", () => {
    for (const name of ["INTERNAL_KEYS", "STOCK_INTERNAL_KEY", "PAYMENT_INTERNAL_KEY"]) {
      const { [name as keyof typeof valid]: _, ...without } = valid;
      expect(orderConfig.safeParse(without).error?.issues[0]?.path[0]).toBe(name);
      expect(orderConfig.safeParse({ ...valid, [name]: "short" }).error?.issues[0]?.path[0]).toBe(name);
    }
    expect(orderConfig.parse({ ...valid, INTERNAL_KEYS: `${key("a")}, ${key("b")}` }).INTERNAL_KEYS).toEqual([key("a"), key("b")]);
    expect(orderConfig.safeParse({ ...valid, INTERNAL_KEYS: [key("a"), key("b"), key("c")].join(",") }).success).toBe(false);
  });

  it("refuses a window too short for a driver's retried tries and a takeover after its lease", () => {
    expect(orderConfig.parse({ ...valid, TX_WINDOW_MS: "13001" }).TX_WINDOW_MS).toBe(13_001);
    const parsed = orderConfig.safeParse({ ...valid, TX_WINDOW_MS: "13000" });
    expect(parsed.error?.issues.map((i) => i.path[0])).toEqual(["TX_WINDOW_MS"]);
    expect(orderConfig.safeParse({ ...valid, TX_WINDOW_MS: "20000", STEP_TIMEOUT_MS: "17000" }).success).toBe(false);
  });

  it("has every variable in one of the lists below, so a new numeric one gets tested", () => {
    expect(Object.keys(orderConfig.shape).sort()).toEqual([...NUMERIC, ...OTHERS].sort());
  });

  describe.each(NUMERIC)("%s", (key) => {
    it.each(["not a number", "-1", "2.5", "99999999999"])("refuses %j, naming the variable", (value) => {
      const parsed = orderConfig.safeParse({ ...valid, [key]: value });
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path[0])).toEqual([key]);
    });

    it("accepts its default written out", () => {
      const fallback = orderConfig.parse(valid)[key as keyof typeof valid];
      expect(orderConfig.parse({ ...valid, [key]: String(fallback) })[key as keyof typeof valid]).toBe(fallback);
    });
  });
});
