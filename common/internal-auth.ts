// Who may call a service's internal routes (/internal/…: transaction phases, batches, the
// operator's routes): only a caller holding the key that service accepts, which in a deployment is
// the order service alone (and an operator inside its container). Each request carries an HMAC
// over the callee's name, the method, the request target, a timestamp, a nonce and the body bytes,
// so a signature is worthless for another service, another route, another body, or after a short
// window; within the window a service remembers what it has seen, so a copy is refused too.
//
// HMAC rather than mutual TLS: a shared key per callee is one secret to generate and mount, where
// mTLS needs a CA, a certificate per service and its renewal in every deployment; and a signature
// costs microseconds per batch of phases, not a TLS handshake per connection and encryption per byte
// on the hot path. What it does not give: confidentiality on the wire (nothing secret travels on
// it: ids, amounts and quantities).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The request header carrying the credential: `v1 <unix ms> <nonce> <signature, base64url>`. */
export const AUTH_HEADER = "x-shardshop-auth";
/** How far a request's timestamp may be from the callee's clock, either way. */
export const AUTH_WINDOW_MS = 30_000;
/** The shortest key a service accepts: 32 characters, e.g. 24 random bytes in base64. */
export const MIN_KEY_LENGTH = 32;

/** Why a call to an internal route was refused: the label of the refusal metric. */
export const AUTH_REFUSALS = ["missing", "malformed", "stale", "bad_signature", "replayed"] as const;
export type AuthRefusal = (typeof AUTH_REFUSALS)[number];

/** A new random key, in the form every deployment stores them. */
export const newKey = (): string => randomBytes(32).toString("base64url");

const mac = (key: string, audience: string, method: string, target: string, at: string, nonce: string, body: string) =>
  createHmac("sha256", key).update(`v1\n${audience}\n${method}\n${target}\n${at}\n${nonce}\n`).update(body).digest();

/** Signs requests to one service (`audience`) with the key it accepts. */
export class RequestSigner {
  // A nonce is this process's random prefix and a counter: unique without a random draw per call.
  private readonly prefix = randomBytes(6).toString("base64url");
  private counter = 0;

  constructor(
    private readonly audience: string,
    private readonly key: string,
  ) {}

  /** The header value for one request; `target` is the path and query as sent. */
  sign(method: string, target: string, body = "", now = Date.now()): string {
    const at = String(now);
    const nonce = `${this.prefix}.${(this.counter++).toString(36)}`;
    return `v1 ${at} ${nonce} ${mac(this.key, this.audience, method, target, at, nonce, body).toString("base64url")}`;
  }
}

/**
 * Checks the credential of calls to one service's internal routes. Any of `keys` is accepted (two
 * during a rotation: the new one added here first, then the callers switched, then the old one
 * dropped). Signatures seen within the window are remembered, so a copy of a request is refused.
 */
export class RequestVerifier {
  private readonly keys: string[];
  private readonly seen = new Map<string, number>();
  private nextPrune = 0;

  constructor(
    private readonly audience: string,
    keys: readonly string[],
  ) {
    if (keys.length === 0 || keys.some((k) => k.length < MIN_KEY_LENGTH)) throw new Error(`internal keys must be at least ${MIN_KEY_LENGTH} characters`);
    this.keys = [...keys];
  }

  /** Undefined when the call may go on, else why it may not. */
  check(method: string, target: string, header: string | undefined, body: string, now = Date.now()): AuthRefusal | undefined {
    if (header === undefined) return "missing";
    const [version, at, nonce, signature, extra] = header.split(" ");
    if (version !== "v1" || !at || !nonce || !signature || extra !== undefined || !/^\d{1,15}$/.test(at)) return "malformed";
    if (Math.abs(now - Number(at)) > AUTH_WINDOW_MS) return "stale";
    const given = Buffer.from(signature, "base64url");
    const valid = this.keys.some((key) => {
      const expected = mac(key, this.audience, method, target, at, nonce, body);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!valid) return "bad_signature";
    if (this.seen.has(signature)) return "replayed";
    this.remember(signature, Number(at) + AUTH_WINDOW_MS, now);
    return undefined;
  }

  private remember(signature: string, until: number, now: number): void {
    if (now >= this.nextPrune) {
      for (const [s, end] of this.seen) if (end < now) this.seen.delete(s);
      this.nextPrune = now + 1000;
    }
    this.seen.set(signature, until);
  }
}
