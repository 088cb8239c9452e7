import { describe, expect, it } from "vitest";
import { newTxId, txTime } from "../ids.js";
import { decodeSettlement, decodeTry, UnexpectedReplyError } from "./replies.js";

const REASONS = ["insufficient_credit", "compensated"] as const;

describe("try replies", () => {
  it("decode the script's own word for done, and every known refusal", () => {
    expect(decodeTry("step", REASONS, ["done"])).toEqual({ status: "done" });
    expect(decodeTry("step", REASONS, ["refused", "insufficient_credit"])).toEqual({ status: "refused", reason: "insufficient_credit" });
    expect(decodeTry("step", REASONS, ["refused", "compensated"])).toEqual({ status: "refused", reason: "compensated" });
  });

  it.each([
    ["another word for done", ["charged"]],
    ["a refusal without a known reason", ["refused", "because"]],
    ["a refusal without a reason", ["refused"]],
    ["done with extra parts", ["done", "1"]],
    ["a bare string", "done"],
    ["nothing", null],
  ])("throw on %s", (_, reply) => {
    expect(() => decodeTry("step", REASONS, reply)).toThrow(UnexpectedReplyError);
  });
});

describe("cancel and confirm replies", () => {
  it("give the amount this call returned or spent", () => {
    expect(decodeSettlement("compensate", ["done", 3])).toBe(3);
    expect(decodeSettlement("commit", ["done", 0])).toBe(0);
  });

  it.each([[["done"]], [["refunded", 2]], [["done", "2"]], [7]])("throw on %j", (reply) => {
    expect(() => decodeSettlement("compensate", reply)).toThrow(UnexpectedReplyError);
  });
});

describe("transaction ids", () => {
  it("carry their creation time to the millisecond", () => {
    const before = Date.now();
    const time = txTime(newTxId());
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});
