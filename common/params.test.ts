import { describe, expect, it } from "vitest";
import { amount, id, price } from "./params.js";

describe("path parameters", () => {
  it("accepts only plain decimal integers in range", () => {
    expect(amount.parse("1")).toBe(1);
    expect(amount.parse("007")).toBe(7);
    expect(price.parse("0")).toBe(0);
    expect(amount.parse("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ["0", "-1", "+1", "1.5", "1e3", " 1", "0x10", "", "abc", "9007199254740992", "1".repeat(30)]) {
      expect(amount.safeParse(bad).success, bad).toBe(false);
    }
    expect(price.safeParse("-0").success).toBe(false);
  });

  it("accepts ids of 1-64 safe characters", () => {
    expect(id.parse("a-B_9")).toBe("a-B_9");
    expect(id.safeParse("x".repeat(64)).success).toBe(true);
    for (const bad of ["", "x".repeat(65), "a{b}", "a b", "a/b", "ä", "a\u0000"]) {
      expect(id.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
