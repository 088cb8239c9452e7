import { describe, expect, it } from "vitest";
import type { BatchResult } from "../participant.js";
import { Coalescer, type BatchSender } from "./coalescer.js";
import type { CallOptions } from "./client.js";

/** A sender that records what it was asked to send and answers as scripted. */
function sender(answer: (bodies: unknown[]) => Promise<{ status: number; body: { results?: BatchResult[] } }>) {
  const sent: Array<{ kind: "one" | "many"; bodies: unknown[]; options: CallOptions }> = [];
  const s: BatchSender = {
    one: async <T>(options: CallOptions) => {
      sent.push({ kind: "one", bodies: [options.body], options });
      return { status: 200, body: { status: "done" } as T };
    },
    many: async (bodies, options) => {
      sent.push({ kind: "many", bodies, options });
      return answer(bodies);
    },
  };
  return { sent, s };
}

const results = (...r: BatchResult[]) => async () => ({ status: 200, body: { results: r } });

describe("the coalescer", () => {
  it("sends the calls of one turn as one batch, and gives each call its own answer", async () => {
    const { sent, s } = sender(
      results({ status: "done" }, { status: "refused", reason: "insufficient_stock" }, { status: "unknown" }, { status: "invalid", error: "items: too big" }),
    );
    const c = new Coalescer(s, 64);
    const answers = await Promise.all([1, 2, 3, 4].map((tx) => c.call({ body: { tx }, headers: { traceparent: `t${tx}` }, timeoutMs: 100 * tx })));
    expect(sent).toEqual([{ kind: "many", bodies: [{ tx: 1 }, { tx: 2 }, { tx: 3 }, { tx: 4 }], options: { headers: { traceparent: "t1" }, timeoutMs: 100 } }]);
    expect(answers.map((a) => a.status)).toEqual([200, 409, 503, 400]);
    expect(answers[1]!.body).toEqual({ status: "refused", reason: "insufficient_stock" });
    expect(answers[3]!.body).toEqual({ status: "invalid", error: "items: too big" });
  });

  it("sends a call made alone by the single route, and calls of later turns in later batches", async () => {
    const { sent, s } = sender(results({ status: "done" }, { status: "done" }));
    const c = new Coalescer(s, 64);
    await c.call({ body: { tx: 1 } });
    await Promise.all([c.call({ body: { tx: 2 } }), c.call({ body: { tx: 3 } })]);
    expect(sent.map((x) => [x.kind, x.bodies.length])).toEqual([["one", 1], ["many", 2]]);
  });

  it("never sends more than its bound in one batch", async () => {
    const { sent, s } = sender(async (bodies) => ({ status: 200, body: { results: bodies.map(() => ({ status: "done" as const })) } }));
    const c = new Coalescer(s, 4);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, tx) => c.call({ body: { tx } })));
    expect(sent.map((x) => x.bodies.length)).toEqual([4, 4, 2]);
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });

  it("fails every call of a batch that was lost, or answered with an error or the wrong number of results", async () => {
    const lost = new Coalescer(sender(async () => Promise.reject(new Error("socket hang up"))).s, 64);
    const outcomes = await Promise.allSettled([lost.call({ body: { tx: 1 } }), lost.call({ body: { tx: 2 } })]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);

    const failed = new Coalescer(sender(async () => ({ status: 503, body: {} })).s, 64);
    expect((await Promise.all([failed.call({ body: { tx: 1 } }), failed.call({ body: { tx: 2 } })])).map((a) => a.status)).toEqual([503, 503]);

    const short = new Coalescer(sender(results({ status: "done" })).s, 64);
    expect((await Promise.all([short.call({ body: { tx: 1 } }), short.call({ body: { tx: 2 } })])).map((a) => a.status)).toEqual([502, 502]);

  });

  it.each([413, 400])("sends each call alone when the batch as a whole is rejected with %i, so none is refused for another's body", async (status) => {
    const rejected = sender(async () => ({ status, body: {} }));
    const whole = new Coalescer(rejected.s, 64);
    expect((await Promise.all([whole.call({ body: { tx: 1 } }), whole.call({ body: { tx: 2 } })])).map((a) => a.status)).toEqual([200, 200]);
    expect(rejected.sent.map((x) => [x.kind, x.bodies.length])).toEqual([["many", 2], ["one", 1], ["one", 1]]);
  });
});
