import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceClient } from "../common/http.js";
import { createLogger } from "../common/log.js";
import { sagaRoutes } from "../common/saga.js";
import { backgroundContext, startTracing } from "../common/tracing.js";
import { Participant } from "./participants.js";

// A real HTTP participant that cannot do its part: every call answers 503.
let server: Server;
let client: ServiceClient;
let calls = 0;

beforeAll(async () => {
  server = createServer((_, res) => {
    calls++;
    res.writeHead(503, { "content-type": "application/json" }).end('{"error":"storage did not answer"}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = new ServiceClient([`http://127.0.0.1:${(server.address() as { port: number }).port}`], { timeoutMs: 2000 });
});
afterAll(async () => {
  await client.close();
  server.close();
});

describe("a saga step whose participant's breaker opens", () => {
  it("is unknown (so it is compensated) once any attempt was sent, and not sent only when none was", async () => {
    const payment = new Participant("payment", client, { deadlineMs: 2000, attempts: 3, breakerFailures: 1, breakerHalfOpenMs: 60_000 });
    const ctx = backgroundContext(await startTracing("test", {}), "test", createLogger("test", "silent", "0/1"));
    const charge = () => payment.step("charge", sagaRoutes.chargeCredit, ctx, { tx: "t1", user_id: "u1", amount: 5 });

    // The first attempt went out (a 503 may follow a charge that was applied); the breaker opened on
    // it and refused the retry. Reporting "not sent" here would skip the refund.
    expect(await charge()).toEqual({ kind: "unknown" });
    expect(calls).toBe(1);
    // Now the breaker refuses before anything is sent.
    expect(await charge()).toEqual({ kind: "not_sent" });
    expect(calls).toBe(1);
  });
});
