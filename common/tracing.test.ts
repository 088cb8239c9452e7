import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { idsOnlyTracer, parseTraceparent, RequestContext } from "./tracing.js";

const log = pino({ level: "silent" });

describe("traceparent", () => {
  it("parses a valid header and refuses malformed or all-zero ids", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      flags: "01",
    });
    for (const bad of [
      undefined,
      "",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case is invalid
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // unknown version
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });

  it("continues the caller's trace with a span of its own on calls it makes", () => {
    const span = idsOnlyTracer.startRequest("GET", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    const ctx = new RequestContext(span, log, "req-1");
    const sent = parseTraceparent(ctx.callHeaders(ctx.span).traceparent)!;
    expect(sent.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(sent.spanId).not.toBe("00f067aa0ba902b7");
    expect(sent.flags).toBe("00"); // the caller's sampling decision is kept
    expect(ctx.callHeaders(ctx.span)["x-request-id"]).toBe("req-1");
  });

  it("starts a new trace when the caller sent none or garbage, and uses it as the request id", () => {
    const a = new RequestContext(idsOnlyTracer.startRequest("GET", "garbage"), log, "bad id with spaces");
    const b = new RequestContext(idsOnlyTracer.startRequest("GET", undefined), log, undefined);
    expect(a.span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.span.traceId).not.toBe(b.span.traceId);
    // Without a usable request id of its own, a request is known by its trace id, which is all
    // that travels on.
    expect(a.requestId).toBe(a.span.traceId);
    expect(a.callHeaders(a.span)).toEqual({ traceparent: expect.stringContaining(a.span.traceId) });
    expect(parseTraceparent(b.callHeaders(b.span).traceparent)?.traceId).toBe(b.span.traceId);
  });
});
