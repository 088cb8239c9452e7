import { describe, expect, it } from "vitest";
import { decodeCompensation, decodeStep, UnexpectedReplyError } from "./saga.js";

describe("step replies", () => {
  it("decode the script's own word for done, and every known refusal", () => {
    expect(decodeStep("reserveStock", "reserved", ["reserved"])).toEqual({ status: "done" });
    expect(decodeStep("chargeCredit", "charged", ["refused", "insufficient_credit"])).toEqual({ status: "refused", reason: "insufficient_credit" });
    expect(decodeStep("chargeCredit", "charged", ["refused", "compensated"])).toEqual({ status: "refused", reason: "compensated" });
  });

  it.each([
    ["another script's word for done", ["charged"]],
    ["a refusal without a known reason", ["refused", "because"]],
    ["a refusal without a reason", ["refused"]],
    ["done with extra parts", ["reserved", "1"]],
    ["a bare string", "reserved"],
    ["nothing", null],
  ])("throw on %s", (_, reply) => {
    expect(() => decodeStep("reserveStock", "reserved", reply)).toThrow(UnexpectedReplyError);
  });
});

describe("compensation replies", () => {
  it("give the amount this call returned", () => {
    expect(decodeCompensation("releaseStock", "released", ["released", 3])).toBe(3);
    expect(decodeCompensation("refundCredit", "refunded", ["refunded", 0])).toBe(0);
  });

  it.each([[["released"]], [["refunded", 2]], [["released", "2"]], [7]])("throw on %j", (reply) => {
    expect(() => decodeCompensation("releaseStock", "released", reply)).toThrow(UnexpectedReplyError);
  });
});
