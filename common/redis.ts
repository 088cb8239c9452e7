// One ioredis client per shard, every Lua script of the service defined on each, and nothing else:
// services call scripts through `Shards.run`, which is the only way state changes, and every call
// to a shard (scripts and reads) goes through `Shards.call`, which classifies failures and times it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import type { BaseConfig } from "./config.js";
import { elapsedSeconds, redisCommandDuration, redisCommandErrors, type Recorder } from "./metrics.js";
import { groupByShard, shardIndexOf } from "./shards.js";

export type ScriptReply = string | number | null | ScriptReply[];

/** Raised when a Redis call did not answer in time or the connection dropped: it may have run. */
export class OutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super(`redis outcome unknown: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/**
 * Raised when a shard refused a call without running it because it cannot serve now (loading its
 * AOF after a restart, or busy with a long script): safe to send again.
 */
export class StorageUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`redis unavailable: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/** A failure worth trying again later: the shard did not answer, or could not serve yet. */
export const isStorageFailure = (err: unknown): boolean => err instanceof OutcomeUnknownError || err instanceof StorageUnavailableError;

/** Errors that mean "the command may or may not have been applied". */
function isOutcomeUnknown(err: unknown): boolean {
  const msg = (err as Error)?.message ?? "";
  return /timed out|Connection is closed|MaxRetriesPerRequest|ECONNRESET|EPIPE|ECONNREFUSED|Stream isn't writeable/i.test(msg);
}

/** Error replies a shard gives before running anything, while it cannot serve. */
const isUnavailableReply = (err: unknown): boolean => /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/.test((err as Error)?.message ?? "");

/**
 * Reads `<dir>/<name>.lua` for each name; a missing file stops the boot rather than the first
 * request that needs it. The script is registered under the same name. A line
 * `--@include "<path>"` is replaced by that file (relative to the including one, each file at most
 * once per script), so scripts share fragments the way BullMQ's `includes/` do.
 */
export function loadLuaScripts<Name extends string>(dir: URL, names: readonly Name[]): Map<Name, string> {
  return new Map(names.map((name) => [name, readLua(new URL(`${name}.lua`, dir), new Set())]));
}

function readLua(file: URL, included: Set<string>): string {
  included.add(file.href);
  return readFileSync(file, "utf8").replace(/^--@include "([^"]+)"$/gm, (_, path: string) => {
    const target = new URL(path, file);
    return included.has(target.href) ? "" : readLua(target, included);
  });
}

function clientOptions(config: BaseConfig): RedisOptions {
  return {
    password: config.REDIS_PASSWORD,
    db: config.REDIS_DB,
    // Commands are batched by corking the socket instead (Shards.call): ioredis's auto-pipelining
    // builds a Pipeline object per batch and keeps every command reachable until the whole batch
    // answers, so under load they outlive a scavenge and are promoted, and the old space fills
    // with them (see BENCHMARKS.md, "Issue 14, second lever").
    enableAutoPipelining: false,
    // A command in flight when the connection drops may already have run: resending it could, for
    // instance, apply a debit twice. Never resend; the command timeout reports it as unknown.
    autoResendUnfulfilledCommands: false,
    commandTimeout: config.REDIS_TIMEOUT_MS,
    connectTimeout: Math.max(config.REDIS_TIMEOUT_MS, 1000),
    // Commands issued while disconnected wait for one reconnect attempt, then fail fast.
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  };
}

/** A script as sent: its source, and the SHA1 Redis knows it by. */
interface LoadedScript {
  lua: string;
  sha: string;
}

export class Shards<Script extends string = string> {
  readonly clients: Redis[];
  private readonly scripts: Map<Script, LoadedScript>;
  /** Per shard, whether its socket is corked until the current turn of the event loop ends. */
  private readonly corked: boolean[];

  constructor(config: BaseConfig, scripts: Map<Script, string>) {
    this.scripts = new Map([...scripts].map(([name, lua]) => [name, { lua, sha: createHash("sha1").update(lua).digest("hex") }]));
    this.clients = config.REDIS_ADDRS.map((addr) => {
      const i = addr.lastIndexOf(":");
      const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
      const client = new Redis({ ...clientOptions(config), host, port: Number(addr.slice(i + 1)) });
      // Connection errors surface on the commands that need the shard; keep the process alive.
      client.on("error", () => {});
      return client;
    });
    this.corked = this.clients.map(() => false);
  }

  get count(): number {
    return this.clients.length;
  }

  indexOf(id: string): number {
    return shardIndexOf(id, this.clients.length);
  }

  group<T>(entries: Iterable<T>, idOf: (e: T) => string): Map<number, T[]> {
    return groupByShard(entries, idOf, this.clients.length);
  }

  /**
   * For bulk writes: calls `write` with each shard's ids in chunks of `chunkSize`. Ids are consumed
   * as they come (a million never sit in memory at once); one chunk at a time per shard, so no
   * script blocks a shard for long, and the shards work in parallel.
   */
  async inChunks(ids: Iterable<string>, chunkSize: number, write: (shard: number, chunk: string[]) => Promise<unknown>): Promise<void> {
    const buffers = this.clients.map((): string[] => []);
    const inFlight = this.clients.map((): Promise<unknown> => Promise.resolve());
    const flush = async (shard: number) => {
      const chunk = buffers[shard]!.splice(0);
      await inFlight[shard];
      const written = write(shard, chunk);
      written.catch(() => {}); // awaited below; this only keeps a failure from counting as unhandled
      inFlight[shard] = written;
    };
    for (const id of ids) {
      const shard = this.indexOf(id);
      if (buffers[shard]!.push(id) >= chunkSize) await flush(shard);
    }
    for (let shard = 0; shard < this.clients.length; shard++) if (buffers[shard]!.length) await flush(shard);
    await Promise.all(inFlight);
  }

  /**
   * Runs one of the service's Lua scripts on shard number `shard`: EVALSHA, and EVAL only when the
   * shard answers NOSCRIPT (it has not seen the script since it started), which means it ran
   * nothing, so sending it again is safe.
   */
  run(shard: number, script: Script, keys: string[], args: (string | number)[]): Promise<ScriptReply> {
    const { lua, sha } = this.scripts.get(script)!;
    return this.call(shard, script, (client) =>
      (client.evalsha(sha, keys.length, ...keys, ...args) as Promise<ScriptReply>).catch((err: unknown) => {
        if (!(err as Error)?.message?.startsWith("NOSCRIPT")) throw err;
        return client.eval(lua, keys.length, ...keys, ...args) as Promise<ScriptReply>;
      }),
    );
  }

  /** Runs a script on the shard that owns `id`. */
  runFor(id: string, script: Script, keys: string[], args: (string | number)[]): Promise<ScriptReply> {
    return this.run(this.indexOf(id), script, keys, args);
  }

  /**
   * Every call to a shard (scripts and plain reads, named for the metrics) goes through here, so
   * failures are classified and latency recorded in one place. Plain promise callbacks rather than
   * an async function: this runs several times per checkout, and each await costs a microtask.
   */
  call<T>(shard: number, name: string, op: (client: Redis) => Promise<T>): Promise<T> {
    const start = performance.now();
    const recorder = this.recorder(shard, name);
    const client = this.clients[shard]!;
    this.holdWrites(shard, client);
    let pending: Promise<T>;
    try {
      pending = op(client);
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (value) => {
        recorder.observe(elapsedSeconds(start));
        return value;
      },
      (err: unknown) => {
        recorder.observe(elapsedSeconds(start));
        const unknown = isOutcomeUnknown(err);
        const unavailable = !unknown && isUnavailableReply(err);
        redisCommandErrors.inc({ shard: String(shard), command: name, kind: unknown ? "unknown_outcome" : unavailable ? "unavailable" : "error" });
        if (unknown) throw new OutcomeUnknownError(err);
        throw unavailable ? new StorageUnavailableError(err) : err;
      },
    );
  }

  /**
   * Corks the shard's socket until the I/O callbacks of this turn of the event loop have run, so
   * that every command they issue leaves in one write, and Redis reads them in one go: what
   * auto-pipelining did, without a Pipeline object per batch. Commands keep their order, and one
   * whose connection drops still fails as unknown (nothing is resent).
   */
  private holdWrites(shard: number, client: Redis): void {
    const socket = client.stream;
    if (this.corked[shard] || !socket?.writable) return;
    this.corked[shard] = true;
    socket.cork();
    setImmediate(() => {
      this.corked[shard] = false;
      socket.uncork();
    });
  }

  /** Latency recorders by shard, then call name, resolved once each. */
  private readonly recorders: Array<Map<string, Recorder>> = [];

  private recorder(shard: number, name: string): Recorder {
    const byName = (this.recorders[shard] ??= new Map());
    let recorder = byName.get(name);
    if (recorder === undefined) byName.set(name, (recorder = redisCommandDuration.recorder(String(shard), name)));
    return recorder;
  }

  /** `call` on the shard that owns `id`. */
  callFor<T>(id: string, name: string, op: (client: Redis) => Promise<T>): Promise<T> {
    return this.call(this.indexOf(id), name, op);
  }

  /** For each shard, whether it answers PING. */
  async pingEach(): Promise<boolean[]> {
    const results = await Promise.allSettled(this.clients.map((c) => c.ping()));
    return results.map((r) => r.status === "fulfilled");
  }

  /** True when every shard answers PING. */
  async ready(): Promise<boolean> {
    return (await this.pingEach()).every(Boolean);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.quit()));
  }
}
