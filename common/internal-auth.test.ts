import { describe, expect, it } from "vitest";
import { AUTH_WINDOW_MS, newKey, RequestSigner, RequestVerifier } from "./internal-auth.js";

const key = newKey();
const now = 1_800_000_000_000;
const target = "/internal/stock/saga/try";
const body = '{"tx":"x","items":[]}';

describe("internal request signatures", () => {
  it("are accepted once, from the key the service accepts, for that request alone", () => {
    const verifier = new RequestVerifier("stock", [key]);
    const signature = new RequestSigner("stock", key).sign("POST", target, body, now);
    expect(verifier.check("POST", target, signature, body, now + 5)).toBeUndefined();
    // A copy of it, the same request sent again, is refused.
    expect(verifier.check("POST", target, signature, body, now + 6)).toBe("replayed");
  });

  it.each([
    ["another body", "POST", target, '{"tx":"x","items":[["i",100]]}'],
    ["another route", "POST", "/internal/stock/saga/cancel", body],
    ["another method", "GET", target, body],
  ])("do not cover %s", (_, method, path, sent) => {
    const verifier = new RequestVerifier("stock", [key]);
    const signature = new RequestSigner("stock", key).sign("POST", target, body, now);
    expect(verifier.check(method, path, signature, sent, now)).toBe("bad_signature");
  });

  it("made for one service are refused by another, even one that holds the same key", () => {
    const signature = new RequestSigner("stock", key).sign("POST", target, body, now);
    expect(new RequestVerifier("payment", [key]).check("POST", target, signature, body, now)).toBe("bad_signature");
  });

  it("made with a key the service does not accept, or none, or garbled, are refused", () => {
    const verifier = new RequestVerifier("stock", [key]);
    expect(verifier.check("POST", target, new RequestSigner("stock", newKey()).sign("POST", target, body, now), body, now)).toBe("bad_signature");
    expect(verifier.check("POST", target, undefined, body, now)).toBe("missing");
    for (const garbled of ["", "v1", "v2 1 n s", `v1 ${now} n`, `v1 soon n s`, `v1 ${now} n s extra`]) {
      expect(verifier.check("POST", target, garbled, body, now)).toBe("malformed");
    }
  });

  it("are refused outside the window either way", () => {
    const verifier = new RequestVerifier("stock", [key]);
    const signer = new RequestSigner("stock", key);
    expect(verifier.check("POST", target, signer.sign("POST", target, body, now - AUTH_WINDOW_MS - 1), body, now)).toBe("stale");
    expect(verifier.check("POST", target, signer.sign("POST", target, body, now + AUTH_WINDOW_MS + 1), body, now)).toBe("stale");
  });

  it("during a rotation: both the old key and the new are accepted", () => {
    const next = newKey();
    const verifier = new RequestVerifier("stock", [key, next]);
    for (const k of [key, next]) expect(verifier.check("POST", target, new RequestSigner("stock", k).sign("POST", target, body, now), body, now)).toBeUndefined();
  });

  it("forget what they saw once it is out of the window, and no two of a signer's repeat", () => {
    const verifier = new RequestVerifier("stock", [key]);
    const signer = new RequestSigner("stock", key);
    const signatures = new Set(Array.from({ length: 1000 }, () => signer.sign("POST", target, body, now)));
    expect(signatures.size).toBe(1000);
    for (const s of signatures) expect(verifier.check("POST", target, s, body, now)).toBeUndefined();
    expect(verifier.check("POST", target, signer.sign("POST", target, body, now + 2 * AUTH_WINDOW_MS), body, now + 2 * AUTH_WINDOW_MS)).toBeUndefined();
    expect((verifier as unknown as { seen: Map<string, number> }).seen.size).toBe(1);
  });

  it("refuse to start with a short key or none", () => {
    expect(() => new RequestVerifier("stock", [])).toThrow();
    expect(() => new RequestVerifier("stock", ["short"])).toThrow();
  });
});
