// Idempotency-Key on the public routes that change something (the contract Stripe made standard,
// and the IETF httpapi draft): a repeat of a request with the same key applies nothing and gets the
// first answer again; the same key with another request is a 422 that changes nothing.
//
// A key works in two steps. Its claim (claimIdempotencyKey.lua, on the key's own shard) binds it
// to one request, whatever entity that request names. Then the change runs as the script's
// idempotent variant: the script wrapped in lua/includes/idempotency.lua, which writes the record
// (the fingerprint and the script's reply) in the same script as the change, in the entity's slot,
// or answers the recorded reply instead of running again. A crash between the two steps leaves a
// claim and nothing else, and the same request sent again goes on.
//
// A gateway's retry key (RETRY_KEY_HEADER), set on a change that carries no Idempotency-Key, is
// one request's by construction: it needs no claim, and its record (lua/includes/retryKey.lua) is
// one string with a short lifetime, since every public change pays for it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { HTTPException } from "hono/http-exception";
import { RETRY_KEY_TTL_MS } from "./http.js";
import type { ScriptReply, Shards } from "./redis.js";

/** A well-formed key: 1-255 visible ASCII characters. The OpenAPI document shows the same pattern. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const CONFLICT = "idempotency_conflict";
const CLAIM_SCRIPT = "claimIdempotencyKey";

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");

/** A request's Idempotency-Key, as the scripts use it. */
export class IdempotencyKey {
  constructor(
    /** SHA-256 of the key (base64url): names its claim and its records. */
    readonly digest: string,
    /** What "the same request" means: SHA-256 of the route and its parsed parameters; none for a gateway's key, which is one request's. */
    readonly fingerprint: string,
    /**
     * A client's Idempotency-Key is claimed for one request before the change runs, and kept for
     * IDEMPOTENCY_TTL_MS. A gateway's retry key (RETRY_KEY_HEADER) is one request's by
     * construction (random, set by the gateway, which re-sends only that request), so it needs no
     * claim, and is kept only for RETRY_KEY_TTL_MS.
     */
    readonly fromGateway: boolean,
    private readonly route: string,
    private readonly key: string,
  ) {}

  /**
   * The id a creation guarded by this key makes, so that a repeat hands back the same one: "k" and
   * the SHA-256 of the route and the key, 44 characters. It can never equal a random id (UUIDs are
   * 36 characters) or a batch_init one (decimal digits), and two keys share one only if SHA-256
   * collides. Computed when a creation asks for it.
   */
  get newId(): string {
    return `k${sha256(`${this.route}\n${this.key}`)}`;
  }
}

/** A 400 (before anything is touched) unless the key is well-formed or absent. */
export function checkIdempotencyKey(raw: string | undefined): void {
  if (raw !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(raw)) throw new HTTPException(400, { message: "Idempotency-Key must be 1-255 visible ASCII characters" });
}

/**
 * The request's key: the client's Idempotency-Key, else the gateway's retry key, else undefined;
 * a 400 if malformed. A retry key is hashed apart from client keys, so the two never share records
 * or new ids.
 */
export function parseIdempotencyKey(raw: string | undefined, retryKey: string | undefined, route: string, params: object): IdempotencyKey | undefined {
  checkIdempotencyKey(raw);
  if (raw !== undefined) return new IdempotencyKey(sha256(raw), sha256(`${route}\n${JSON.stringify(params)}`), false, route, raw);
  checkIdempotencyKey(retryKey);
  if (retryKey === undefined) return undefined;
  const key = `retry:${retryKey}`;
  return new IdempotencyKey(sha256(key), "", true, route, key);
}

/** The name of a script's idempotent variant, for a client's key. */
export type Idempotent<S extends string> = `${S}:idempotent`;
/** The name of a script's variant for a gateway's retry key. */
export type Retried<S extends string> = `${S}:retried`;

const prelude = readFileSync(new URL("./lua/includes/idempotency.lua", import.meta.url), "utf8");
const retryPrelude = readFileSync(new URL("./lua/includes/retryKey.lua", import.meta.url), "utf8");

/** `scripts`, plus the claim script and, for each script in `guarded`, its variants for a client's key and for a gateway's. */
export function withIdempotency<S extends string, G extends S>(
  scripts: Map<S, string>,
  guarded: readonly G[],
): Map<S | Idempotent<G> | Retried<G> | typeof CLAIM_SCRIPT, string> {
  const all = new Map<S | Idempotent<G> | Retried<G> | typeof CLAIM_SCRIPT, string>(scripts);
  all.set(CLAIM_SCRIPT, readFileSync(new URL(`./lua/${CLAIM_SCRIPT}.lua`, import.meta.url), "utf8"));
  for (const name of guarded) {
    const body = `(function()\n${scripts.get(name)}\nend)()`;
    all.set(`${name}:idempotent`, `${prelude}\nlocal replay = idem_replay()\nif replay then return replay end\nreturn idem_keep(${body})\n`);
    all.set(`${name}:retried`, `${retryPrelude}\nlocal replay = retry_replay()\nif replay then return replay end\nreturn retry_keep(${body})\n`);
  }
  return all;
}

/** A store's way to run a script guarded by a request's key, or plainly without one. */
export class IdempotentRunner<S extends string> {
  constructor(
    /** Shards holding `withIdempotency`'s scripts for every S. */
    private readonly shards: Shards<string>,
    /** How long keys are remembered. */
    private readonly ttlMs: number,
  ) {}

  /**
   * Runs `script` on the shard of `id`; with a key, claimed first (a client's) and recorded beside
   * `entityKey` (a key of the entity it changes, so in its slot). A 422 when the key was used for
   * another request. Each call is made again while its shard recovers: whatever failed with a key,
   * which makes it safe to repeat; without one, only a call that certainly did not run.
   */
  async run(id: string, script: S, keys: string[], args: (string | number)[], entityKey: string, key: IdempotencyKey | undefined): Promise<ScriptReply> {
    if (!key) return this.shards.recovering(() => this.shards.runFor(id, script, keys, args), false);
    if (key.fromGateway) {
      const record = [...keys, `${entityKey}:retry:${key.digest}`];
      return this.shards.recovering(() => this.shards.runFor(id, `${script}:retried`, record, [...args, RETRY_KEY_TTL_MS]), true);
    }
    const claim = await this.shards.recovering(() => this.shards.runFor(key.digest, CLAIM_SCRIPT, [`idem:{${key.digest}}`], [key.fingerprint, this.ttlMs]), true);
    if (!conflict(claim)) {
      const guarded = [...keys, `${entityKey}:idem:${key.digest}`];
      const reply = await this.shards.recovering(() => this.shards.runFor(id, `${script}:idempotent`, guarded, [...args, key.fingerprint, this.ttlMs]), true);
      if (!conflict(reply)) return reply;
    }
    throw new HTTPException(422, { message: "this Idempotency-Key was used for another request; nothing was changed" });
  }
}

const conflict = (reply: ScriptReply) => Array.isArray(reply) && reply[0] === CONFLICT;
