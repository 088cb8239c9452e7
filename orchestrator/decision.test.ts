import { describe, expect, it } from "vitest";
import { verdict } from "./decision.js";
import type { CallOutcome } from "./transport.js";

const done: CallOutcome = { kind: "done" };
const unknown: CallOutcome = { kind: "unknown" };
const notSent: CallOutcome = { kind: "not_sent" };
const refused = (reason: string): CallOutcome => ({ kind: "refused", reason });
const invalid: CallOutcome = { kind: "invalid", error: "items: too big" };
const P = ["stock", "payment"] as const;

describe("verdict", () => {
  it("commits only when every try is done", () => {
    expect(verdict(P, [done, done])).toEqual({ decision: "commit" });
    expect(verdict(P, [done, unknown]).decision).toBe("abort");
    expect(verdict(P, [notSent, done]).decision).toBe("abort");
  });

  it("gives the first participant's refusal as the reason", () => {
    expect(verdict(P, [refused("insufficient_stock"), refused("insufficient_credit")])).toMatchObject({ reason: "insufficient_stock" });
    expect(verdict(P, [done, refused("insufficient_credit")])).toMatchObject({ reason: "insufficient_credit" });
    expect(verdict(P, [refused("expired"), done])).toMatchObject({ reason: "expired" });
  });

  it("aborts a part a participant rejected as invalid, and never cancels there: nothing was applied, and the same body would be rejected again", () => {
    expect(verdict(P, [invalid, done])).toEqual({ decision: "abort", reason: "invalid", cancel: ["payment"], mayHold: ["payment"] });
    expect(verdict(P, [unknown, invalid])).toEqual({ decision: "abort", reason: "invalid", cancel: ["stock"], mayHold: ["stock"] });
    expect(verdict(P, [refused("insufficient_stock"), invalid])).toMatchObject({ reason: "insufficient_stock", cancel: [] });
  });

  it("says unavailable when nobody refused for a reason of its own", () => {
    expect(verdict(P, [unknown, done])).toMatchObject({ reason: "unavailable" });
    expect(verdict(P, [refused("compensated"), unknown])).toMatchObject({ reason: "unavailable" });
  });

  it("cancels every participant that did not refuse: what it holds, or may yet take, is given back or refused", () => {
    expect(verdict(P, [done, refused("insufficient_credit")])).toMatchObject({ cancel: ["stock"] });
    expect(verdict(P, [refused("insufficient_stock"), unknown])).toMatchObject({ cancel: ["payment"] });
    // Not sent by this driver, but an earlier driver's try may still arrive: the cancel refuses it.
    expect(verdict(P, [unknown, notSent])).toMatchObject({ cancel: ["stock", "payment"] });
    expect(verdict(P, [refused("unknown_item"), notSent])).toMatchObject({ cancel: ["payment"] });
    expect(verdict(P, [refused("unknown_item"), refused("unknown_user")])).toMatchObject({ cancel: [] });
  });

  it("waits only for the cancels of participants that got this driver's try, or may have", () => {
    expect(verdict(P, [unknown, notSent])).toMatchObject({ cancel: ["stock", "payment"], mayHold: ["stock"] });
    expect(verdict(P, [done, refused("insufficient_credit")])).toMatchObject({ mayHold: ["stock"] });
    expect(verdict(P, [notSent, notSent])).toMatchObject({ cancel: ["stock", "payment"], mayHold: [] });
  });
});
