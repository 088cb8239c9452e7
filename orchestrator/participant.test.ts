import { describe, expect, it } from "vitest";
import { decodeSettlement, decodeTry, newTxId, txTime, UnexpectedReplyError } from "./participant.js";

const REASONS = ["insufficient_credit", "compensated"] as const;

describe("try replies", () => {
  it("decode the script's own word for done, and every known refusal", () => {
    expect(decodeTry("reserveStock", "reserved", REASONS, ["reserved"])).toEqual({ status: "done" });
    expect(decodeTry("chargeCredit", "charged", REASONS, ["refused", "insufficient_credit"])).toEqual({ status: "refused", reason: "insufficient_credit" });
    expect(decodeTry("chargeCredit", "charged", REASONS, ["refused", "compensated"])).toEqual({ status: "refused", reason: "compensated" });
  });

  it.each([
    ["another script's word for done", ["charged"]],
    ["a refusal without a known reason", ["refused", "because"]],
    ["a refusal without a reason", ["refused"]],
    ["done with extra parts", ["reserved", "1"]],
    ["a bare string", "reserved"],
    ["nothing", null],
  ])("throw on %s", (_, reply) => {
    expect(() => decodeTry("reserveStock", "reserved", REASONS, reply)).toThrow(UnexpectedReplyError);
  });
});

describe("cancel and confirm replies", () => {
  it("give the amount this call returned or spent", () => {
    expect(decodeSettlement("releaseStock", "released", ["released", 3])).toBe(3);
    expect(decodeSettlement("commitCredit", "committed", ["committed", 0])).toBe(0);
  });

  it.each([[["released"]], [["refunded", 2]], [["released", "2"]], [7]])("throw on %j", (reply) => {
    expect(() => decodeSettlement("releaseStock", "released", reply)).toThrow(UnexpectedReplyError);
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
