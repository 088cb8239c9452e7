import { createServer, type Server } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Registry } from "prom-client";
import { untracedContext } from "../context.js";
import { engineMetrics } from "../metrics.js";
import type { RetryPolicy } from "../retry.js";
import type { ParticipantClient } from "./client.js";
import { HttpParticipant, type BreakerOptions } from "./transport.js";

// A real HTTP participant whose answers the test scripts: each call takes the next status from
// `answers` (503 once they run out), and is counted.
let server: Server;
let client: ParticipantClient;
const registry = new Registry();
const metrics = engineMetrics({ registry });

/** A participant client on fetch: what a host's own client (keep-alive, signed) does, minus those. */
function fetchClient(base: string): ParticipantClient {
  return {
    async request<T>(method: "GET" | "POST", path: string, options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}) {
      const res = await fetch(base + path, {
        method,
        headers: { "content-type": "application/json", ...options.headers },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
      });
      return { status: res.status, body: (await res.json().catch(() => undefined)) as T };
    },
    neverSent: (err) => (err as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED",
  };
}
let answers: number[] = [];
let calls: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    const status = answers.shift() ?? 503;
    const body =
      status === 200 ? (req.method === "GET" ? '{"price":3}' : '{"status":"done"}') : status === 400 ? '{"error":"items: too big"}' : '{"error":"storage did not answer"}';
    res.writeHead(status, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = fetchClient(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
afterAll(async () => {
  server.close();
});
beforeEach(() => {
  answers = [];
  calls = [];
  attempts = 3;
});

const ctx = async () => untracedContext();
const policy = (attempts = 3): RetryPolicy => ({ name: "unknownOutcome", attempts, deadlineMs: 2000, backoffMs: 20 });
const breaker = (o: Partial<BreakerOptions> = {}): BreakerOptions => ({ failures: 5, halfOpenMs: 60_000, failFastAfterMs: 0, probePath: "/ready", ...o });
let attempts = 3;
const charge = (p: HttpParticipant, c: Awaited<ReturnType<typeof ctx>>) => p.phase("saga", "try", { tx: "t1", user_id: "u1", amount: 5 }, policy(attempts), c);
const retries = async () => (await (await registry.getSingleMetric("tx_participant_call_retries_total")!.get()).values.find((v) => v.labels.participant === "payment"))?.value ?? 0;

describe("a try", () => {
  it("is sent again after a 5xx, up to the policy's attempts, each retry counted", async () => {
    const payment = new HttpParticipant("payment", client, breaker(), metrics);
    const before = await retries();
    answers = [503, 503, 200];
    expect(await charge(payment, await ctx())).toEqual({ kind: "done" });
    expect(calls).toHaveLength(3);
    expect(await retries()).toBe(before + 2);

    calls = [];
    answers = [503, 503, 503, 200];
    expect(await charge(payment, await ctx())).toEqual({ kind: "unknown" });
    expect(calls).toHaveLength(3);
  });

  it("is unknown (so it is cancelled) once any attempt was sent, and not sent only when none was", async () => {
    const payment = new HttpParticipant("payment", client, breaker({ failures: 1 }), metrics);
    const c = await ctx();
    // The first attempt went out (a 503 may follow a charge that was applied); the breaker opened on
    // it and refused the retry. Reporting "not sent" here would skip the refund.
    expect(await charge(payment, c)).toEqual({ kind: "unknown" });
    expect(calls).toHaveLength(1);
    // Now the breaker refuses before anything is sent.
    expect(await charge(payment, c)).toEqual({ kind: "not_sent" });
    expect(calls).toHaveLength(1);
  });
});

describe("a short outage", () => {
  it("costs a try nothing: its retries wait behind the open breaker for the probe that finds the participant back", async () => {
    const payment = new HttpParticipant("payment", client, breaker({ failures: 2, halfOpenMs: 100, failFastAfterMs: 60_000 }), metrics);
    const patient: RetryPolicy = { name: "unknownOutcome", attempts: 100, deadlineMs: 10_000, backoffMs: 20, maxBackoffMs: 40 };
    // Down for two calls (which open the breaker), then back.
    answers = [503, 503, 200];
    const outcome = await payment.phase("saga", "try", { tx: "t9", user_id: "u1", amount: 5 }, patient, await ctx());
    expect(outcome).toEqual({ kind: "done" });
    // The retries in between were held back by the breaker, not sent.
    expect(calls).toHaveLength(3);
    expect(payment.failingFastFor()).toBe(0);
  });
});

describe("a 4xx that rejects the call itself", () => {
  it.each([400, 413, 422])("(%i) is final: invalid, sent once, never retried as an unknown outcome", async (status) => {
    const stock = new HttpParticipant("stock", client, breaker(), metrics);
    answers = [status, 200];
    const outcome = await stock.phase("saga", "try", { tx: "t5", items: [["i", 1]] }, policy(3), await ctx());
    expect(outcome.kind).toBe("invalid");
    expect(calls).toHaveLength(1);
  });

  it("never counts against the breaker, however many come", async () => {
    const stock = new HttpParticipant("stock", client, breaker({ failures: 2 }), metrics);
    const c = await ctx();
    answers = Array<number>(10).fill(400);
    for (let i = 0; i < 10; i++) {
      expect(await stock.phase("saga", "try", { tx: `t${i}`, items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "invalid", error: "items: too big" });
    }
    expect(stock.failingFastFor()).toBe(0);
    // And a run of 5xx still opens it: the test would pass vacuously if nothing could.
    expect(await stock.phase("saga", "try", { tx: "u1", items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "unknown" });
    expect(await stock.phase("saga", "try", { tx: "u2", items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "unknown" });
    expect(stock.failingFastFor()).toBeGreaterThan(0);
  });
});

describe("the breaker", () => {
  // The breaker's clock is Date: frozen here, and moved by the test, so no step depends on how
  // long the machine takes between two of them.
  beforeEach(() => vi.useFakeTimers({ toFake: ["Date"] }));
  afterEach(() => vi.useRealTimers());
  const wait = (ms: number) => vi.setSystemTime(Date.now() + ms);

  it("refuses new work once a try gave up on the participant, and probes its readiness itself until it is back", async () => {
    attempts = 1;
    const payment = new HttpParticipant("payment", client, breaker({ failures: 1, halfOpenMs: 1000, failFastAfterMs: 60_000 }), metrics);
    const c = await ctx();
    expect(await charge(payment, c)).toEqual({ kind: "unknown" });
    // A try's whole policy ran out against it: new work is refused, nothing sent meanwhile.
    expect(payment.failingFastFor()).toBe(1);
    expect(calls).toHaveLength(1);
    // The half-open delay passed: the breaker probes the participant's readiness, not a transaction,
    // and keeps refusing while it does; this probe fails.
    wait(1000);
    answers = [503];
    expect(payment.failingFastFor()).toBe(1);
    await vi.waitFor(() => expect(calls.at(-1)).toBe("GET /ready"));
    await vi.waitFor(() => expect(answers).toEqual([]));
    expect(payment.failingFastFor()).toBe(1);
    // The next one succeeds: the breaker closes, and new work starts again.
    wait(1000);
    answers = [200];
    payment.failingFastFor();
    await vi.waitFor(() => expect(payment.failingFastFor()).toBe(0));
    expect(calls.filter((call) => call === "GET /ready")).toHaveLength(2);
    answers = [200];
    expect(await charge(payment, c)).toEqual({ kind: "done" });
  });

  it("refuses new work once the participant has been failing for failFastAfterMs, while tries still wait for it", async () => {
    const payment = new HttpParticipant("payment", client, breaker({ failures: 1, halfOpenMs: 60_000, failFastAfterMs: 5000 }), metrics);
    const c = await ctx();
    answers = [503];
    const patient: RetryPolicy = { name: "unknownOutcome", attempts: 100_000, deadlineMs: 600_000, backoffMs: 20, maxBackoffMs: 20 };
    const waiting = payment.phase("saga", "try", { tx: "t7", user_id: "u1", amount: 5 }, patient, c);
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    // Open, but failing for less than 5 s and no try gave up: new work starts, and waits.
    expect(payment.failingFastFor()).toBe(0);
    wait(5000);
    expect(payment.failingFastFor()).toBeGreaterThan(0);
    // The probe, when due, finds it back: the waiting try is done, and new work starts again.
    answers = [200];
    wait(60_000);
    expect(await waiting).toEqual({ kind: "done" });
    expect(payment.failingFastFor()).toBe(0);
  });

  it("holds back tries only: a cancel is sent while it is open, since it settles work already sent", async () => {
    const stock = new HttpParticipant("stock", client, breaker({ failures: 1 }), metrics);
    const c = await ctx();
    expect(await stock.phase("saga", "try", { tx: "t3", items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "unknown" });
    expect(await stock.phase("saga", "try", { tx: "t4", items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "not_sent" });
    answers = [200];
    expect(await stock.phase("saga", "cancel", { tx: "t3", items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "done" });
    expect(calls.at(-1)).toBe("POST /internal/stock/saga/compensate");
    expect(stock.failingFastFor()).toBeGreaterThan(0);
  });

  it("does not stop reads: they are sent while it is open", async () => {
    const stock = new HttpParticipant("stock", client, breaker({ failures: 1 }), metrics);
    const c = await ctx();
    expect(await stock.phase("2pc", "try", { tx: "t2", items: [["i", 1]] }, policy(1), c)).toEqual({ kind: "unknown" });
    expect(stock.failingFastFor()).toBeGreaterThan(0);
    answers = [200];
    expect((await stock.read<{ price: number }>("/stock/find/i", policy(1), c)).body).toEqual({ price: 3 });
    expect(calls.at(-1)).toBe("GET /stock/find/i");
  });
});
