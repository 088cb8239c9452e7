// A service's Redis, shards or a Redis Cluster (topology.ts), and its Lua scripts, and nothing else:
// services call scripts through `Shards.run`, which is the only way state changes, and every call
// to a partition (scripts and reads) goes through `Shards.call`, which routes it, classifies its
// failures and times it.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis, RedisOptions } from "ioredis";
import type { BaseConfig } from "./config.js";
import { elapsedSeconds, groupBy, type Recorder } from "@shardshop/orchestrator";
import { redisCommandDuration, redisCommandErrors, writesBelowReplicaTarget } from "./metrics.js";
import { createTopology, type Topology } from "./topology.js";

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

/**
 * Raised when a shard refused a script's first write because it reached its maxmemory (it runs
 * with noeviction): nothing of the script was applied, and nothing will be until memory is freed.
 */
export class StorageFullError extends StorageUnavailableError {}

/** A failure worth trying again later: the shard did not answer, or could not serve yet. */
export const isStorageFailure = (err: unknown): boolean => err instanceof OutcomeUnknownError || err instanceof StorageUnavailableError;

/** Errors that mean "the command may or may not have been applied". */
function isOutcomeUnknown(err: unknown): boolean {
  if (err instanceof OutcomeUnknownError) return true;
  const msg = (err as Error)?.message ?? "";
  return /timed out|Connection is closed|MaxRetriesPerRequest|ECONNRESET|EPIPE|ECONNREFUSED|Stream isn't writeable/i.test(msg);
}

/** Redis' answer to a write past maxmemory; a script stops at its first write, so none of it ran. */
const isFullReply = (err: unknown): boolean => /\bOOM command not allowed\b/.test((err as Error)?.message ?? "");

/**
 * Error replies a shard gives before running anything, while it cannot serve (or, in a cluster, no
 * longer serves that slot). READONLY: the node was a master and is a replica now (a failover), so
 * a script's first write was refused, and with it everything the script would have written.
 */
const isUnavailableReply = (err: unknown): boolean => /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|MOVED|ASK)\b/.test((err as Error)?.message ?? "");

function clientOptions(config: BaseConfig): RedisOptions {
  return {
    username: config.REDIS_USER,
    password: config.REDIS_PASSWORD,
    db: config.REDIS_DB,
    // Commands are batched by corking the socket instead (Shards.call): ioredis's auto-pipelining
    // builds a Pipeline object per batch and keeps every command reachable until the whole batch
    // answers, so under load they outlive a scavenge and are promoted, and the old space fills
    // with them (see BENCHMARKS.md, "Issue 14, second lever").
    enableAutoPipelining: false,
    // No CLIENT SETINFO on connect: a command the services' Redis users are not allowed, and a
    // round trip each connection does not need.
    disableClientInfo: true,
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

/** A script as sent: its source, the SHA1 Redis knows it by, and whether it may write. */
interface LoadedScript {
  lua: string;
  sha: string;
  /** False for a script declared `#!lua flags=no-writes`: no replica needs to wait for it. */
  writes: boolean;
}

/**
 * A service's Redis: its partitions (shards, or a cluster's slots: see topology.ts), each script
 * of the service loaded on all of them, and every call routed to the partition's node.
 */
export class Shards<Script extends string = string> {
  readonly topology: Topology;
  private readonly scripts: Map<Script, LoadedScript>;
  private readonly readyMs: number;
  private readonly waitMs: number;
  private readonly recoverMs: number;
  /** The sockets corked until the current turn of the event loop ends, by connection. */
  private readonly corked = new Map<Redis, Redis["stream"]>();
  /** The WAIT each connection sends when the turn ends, behind the turn's writes, shared by all of them. */
  private readonly waits = new Map<Redis, SharedWait>();
  private turnEnding = false;
  /** Cluster mode: how many replicas of each connection's node keep up, as last read (INFO replication). */
  private readonly keepingUp = new Map<Redis, { count: number; readAt: number }>();

  constructor(config: BaseConfig, scripts: Map<Script, string>) {
    this.scripts = new Map(
      [...scripts].map(([name, lua]) => [name, { lua, sha: createHash("sha1").update(lua).digest("hex"), writes: !/^#!lua flags=\S*no-writes/.test(lua) }]),
    );
    this.topology = createTopology(config, clientOptions(config));
    this.readyMs = config.REDIS_TIMEOUT_MS;
    this.waitMs = config.REDIS_WAIT_TIMEOUT_MS;
    this.recoverMs = config.STORAGE_RETRY_MS;
  }

  /**
   * `call`, made again while its shard cannot serve, for up to STORAGE_RETRY_MS (backoff from 20 ms
   * to 250 ms): a shard restarting within it delays the answer instead of failing it. Whatever
   * failed when `repeatable` (a read, or a change a key makes safe to repeat); otherwise only a
   * call the shard refused without running it. A plain promise on success: public hot paths use it.
   */
  recovering<T>(call: () => Promise<T>, repeatable: boolean): Promise<T> {
    const until = Date.now() + this.recoverMs;
    const worthRetrying = (err: unknown) => (repeatable ? isStorageFailure(err) : err instanceof StorageUnavailableError && !(err instanceof StorageFullError));
    const again = (err: unknown, backoff: number): Promise<T> => {
      if (!worthRetrying(err) || Date.now() + backoff >= until) return Promise.reject(err);
      return sleep(backoff).then(() => call().catch((next: unknown) => again(next, Math.min(backoff * 2, 250))));
    };
    return call().catch((err: unknown) => again(err, 20));
  }

  /** A read on the partition that owns `id`, retried while that shard recovers (see `recovering`). */
  readFor<T>(id: string, name: string, op: (client: Redis) => Promise<T>): Promise<T> {
    return this.recovering(() => this.callFor(id, name, op), true);
  }

  /** Partitions: a script touches one. The shards, or a cluster's 16384 slots. */
  get count(): number {
    return this.topology.partitions;
  }

  indexOf(id: string): number {
    return this.topology.partitionOf(id);
  }

  group<T>(entries: Iterable<T>, idOf: (e: T) => string): Map<number, T[]> {
    return groupBy(entries, (e) => this.indexOf(idOf(e)));
  }

  /** The name of `base` in `partition`, for a key each partition has one of (e.g. an index). */
  partitionKey(base: string, partition: number): string {
    return this.topology.partitionKey(base, partition);
  }

  /** `partitions` grouped by the node that serves them now (in shards mode, each alone). */
  byNode(partitions: number[]): number[][] {
    return [...groupBy(partitions, (p) => this.topology.label(p)).values()];
  }

  /**
   * For bulk writes: calls `write` with each partition's ids in chunks of `chunkSize`. Ids are
   * consumed as they come (a million never sit in memory at once); one chunk at a time per
   * partition, so no script blocks a shard for long, and the partitions work in parallel. With
   * many partitions (a cluster's slots) few fill a chunk, so once `MAX_BUFFERED` chunks' worth
   * of ids wait, every partition's are written and the next ids wait for them.
   */
  async inChunks(ids: Iterable<string>, chunkSize: number, write: (partition: number, chunk: string[]) => Promise<unknown>): Promise<void> {
    const buffers = new Map<number, string[]>();
    const inFlight = new Map<number, Promise<unknown>>();
    let buffered = 0;
    const flush = async (partition: number) => {
      const chunk = buffers.get(partition)!;
      buffers.delete(partition);
      buffered -= chunk.length;
      await inFlight.get(partition);
      const written = write(partition, chunk);
      written.catch(() => {}); // awaited below; this only keeps a failure from counting as unhandled
      inFlight.set(partition, written);
    };
    const flushAll = async () => {
      for (const partition of [...buffers.keys()]) await flush(partition);
      await Promise.all(inFlight.values());
      inFlight.clear();
    };
    for (const id of ids) {
      const partition = this.indexOf(id);
      let buffer = buffers.get(partition);
      if (!buffer) buffers.set(partition, (buffer = []));
      buffer.push(id);
      buffered++;
      if (buffer.length >= chunkSize) await flush(partition);
      else if (buffered >= MAX_BUFFERED * chunkSize) await flushAll();
    }
    await flushAll();
  }

  /**
   * Runs one of the service's Lua scripts on partition `partition`: EVALSHA, and EVAL only when
   * the node answers NOSCRIPT (it has not seen the script since it started), which means it ran
   * nothing, so sending it again is safe. In cluster mode a script that may write then waits for
   * `minReplicas` replicas to have its writes: fewer in time, and its outcome is unknown. That
   * WAIT is the connection's one for this turn, sent behind every script of the turn (WAIT
   * counts the replicas that have all of a connection's writes so far), rather than one per
   * script after its reply: a round trip less for each write, and one WAIT for many.
   */
  run(partition: number, script: Script, keys: string[], args: (string | number)[]): Promise<ScriptReply> {
    const { lua, sha, writes } = this.scripts.get(script)!;
    return this.call(partition, script, (client) => {
      const replicas = writes ? this.replicasFor(client) : 0;
      const ran = client.evalsha(sha, keys.length, ...keys, ...args) as Promise<ScriptReply>;
      const replicated = replicas === 0 ? undefined : this.waitAtTurnEnd(client, replicas);
      return ran.then(
        (reply) => (replicated ? replicated.then(() => reply) : reply),
        (err: unknown) => {
          if (!(err as Error)?.message?.startsWith("NOSCRIPT")) throw err;
          // Sent after this turn's WAIT went out, so it waits for its own.
          const again = client.eval(lua, keys.length, ...keys, ...args) as Promise<ScriptReply>;
          return replicas === 0 ? again : again.then((reply) => this.replicated(client, client.wait(replicas, this.waitMs), replicas).then(() => reply));
        },
      );
    });
  }

  /**
   * How many replicas a write on `client` waits for: REDIS_MIN_REPLICAS_ACKED, or as many as its
   * node has keeping up while that is fewer (one down, stalled, or not yet promoted back after a
   * failover), so a replica's outage does not stop the writes. Such a write lives on the master
   * alone (its AOF is written before it answers), which loses nothing while one part fails at a
   * time. The count is read again at most every 500 ms while it is short, so a returning replica
   * is waited for again.
   */
  private replicasFor(client: Redis): number {
    const wanted = this.topology.minReplicas;
    const known = this.keepingUp.get(client);
    if (known === undefined && wanted > 0) {
      // A connection new to us (a node just promoted, say): its replicas are read once, meanwhile
      // writes wait for the configured count.
      this.keepingUp.set(client, { count: wanted, readAt: Date.now() });
      this.readKeepingUp(client).catch(() => {});
    }
    if (wanted === 0 || known === undefined || known.count >= wanted) return wanted;
    if (Date.now() - known.readAt >= 500) {
      known.readAt = Date.now();
      this.readKeepingUp(client).catch(() => {});
    }
    this.belowTarget(client);
    return known.count;
  }

  private belowTarget(client: Redis): void {
    writesBelowReplicaTarget.inc({ shard: `${client.options.host}:${client.options.port}` });
  }

  /** Replicas of `client`'s node that are online and acknowledged within the last second (they ack every second). */
  private async readKeepingUp(client: Redis): Promise<number> {
    const info = await client.info("replication");
    let count = 0;
    for (const [, lag] of info.matchAll(/^slave\d+:.*\bstate=online\b.*\blag=(\d+)/gm)) if (Number(lag) <= 1) count++;
    this.keepingUp.set(client, { count, readAt: Date.now() });
    return count;
  }

  /**
   * Whether a WAIT's count of replicas that have the connection's writes is enough: the replicas
   * asked for, or all that keep up now if fewer do. Otherwise the outcome is unknown.
   */
  private async replicated(client: Redis, acked: Promise<number>, replicas: number): Promise<void> {
    const count = await acked;
    if (count >= replicas) return;
    const keepingUp = await this.readKeepingUp(client).catch(() => replicas);
    if (count >= keepingUp) return this.belowTarget(client);
    throw new OutcomeUnknownError(new Error(`${count} of ${replicas} replicas acknowledged within ${this.waitMs} ms`));
  }

  /** The WAIT `client` sends when this turn ends, behind the writes of the turn. */
  private waitAtTurnEnd(client: Redis, replicas: number): Promise<void> {
    let wait = this.waits.get(client);
    if (wait === undefined) {
      let send!: () => void;
      const done = new Promise<void>((resolve, reject) => {
        send = () => this.replicated(client, client.wait(replicas, this.waitMs), replicas).then(resolve, reject);
      });
      // Awaited by each write that succeeds; one that failed does not wait, and nothing else may.
      done.catch(() => {});
      this.waits.set(client, (wait = { send, done }));
      this.endTurnSoon();
    }
    return wait.done;
  }

  /** Runs a script on the partition that owns `id`. */
  runFor(id: string, script: Script, keys: string[], args: (string | number)[]): Promise<ScriptReply> {
    return this.run(this.indexOf(id), script, keys, args);
  }

  /**
   * Every call to a partition (scripts and plain reads, named for the metrics) goes through here,
   * so failures are classified and latency recorded in one place. A reply saying the partition
   * moved (a cluster's MOVED or ASK) means nothing ran: the call is made again where it now is.
   * Plain promise callbacks rather than an async function on the common path: this runs several
   * times per checkout, and each await costs a microtask.
   */
  call<T>(partition: number, name: string, op: (client: Redis) => Promise<T>): Promise<T> {
    const start = performance.now();
    const label = this.topology.label(partition);
    const recorder = this.recorder(label, name);
    const client = this.topology.connection(partition);
    const pending = client ? this.send(client, op, partition) : this.afterReady(partition, op);
    return pending.then(
      (value) => {
        recorder.observe(elapsedSeconds(start));
        return value;
      },
      (err: unknown) => {
        recorder.observe(elapsedSeconds(start));
        const unknown = isOutcomeUnknown(err);
        const full = !unknown && isFullReply(err);
        const unavailable = full || (!unknown && isUnavailableReply(err));
        redisCommandErrors.inc({ shard: label, command: name, kind: unknown ? "unknown_outcome" : unavailable ? "unavailable" : "error" });
        // The node may be gone, or no longer the slot's master: the slot map is read again soon.
        if (unknown || unavailable) this.topology.refreshSoon();
        if (unknown) throw err instanceof OutcomeUnknownError ? err : new OutcomeUnknownError(err);
        throw full ? new StorageFullError(err) : unavailable ? new StorageUnavailableError(err) : err;
      },
    );
  }

  private send<T>(client: Redis, op: (client: Redis) => Promise<T>, partition: number, redirects = 0): Promise<T> {
    this.holdWrites(client);
    let pending: Promise<T>;
    try {
      pending = op(client);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (this.topology.mode === "shards") return pending;
    return pending.catch(async (err: unknown) => {
      const moved = redirects < MAX_REDIRECTS ? await this.topology.redirect(err, partition) : undefined;
      if (!moved) throw err;
      return this.send(moved, op, partition, redirects + 1);
    });
  }

  /**
   * A call whose partition has no node now: a cluster's first calls, before its slot map is known,
   * or a slot whose master is gone until a replica takes over. It waits for a node, asking for the
   * slot map again every 200 ms (refreshSoon's pace) so a failover is seen at once, up to
   * REDIS_TIMEOUT_MS; nothing is sent before.
   */
  private async afterReady<T>(partition: number, op: (client: Redis) => Promise<T>): Promise<T> {
    const until = Date.now() + this.readyMs;
    for (;;) {
      const client = this.topology.connection(partition);
      if (client) return this.send(client, op, partition);
      if (Date.now() >= until) throw new StorageUnavailableError(new Error(`no node serves slot ${partition}`));
      this.topology.refreshSoon();
      await sleep(50);
    }
  }

  /**
   * Corks a connection's socket until the I/O callbacks of this turn of the event loop have run,
   * so that every command they issue leaves in one write, and Redis reads them in one go: what
   * auto-pipelining did, without a Pipeline object per batch. Commands keep their order, and one
   * whose connection drops still fails as unknown (nothing is resent).
   */
  private holdWrites(client: Redis): void {
    const socket = client.stream;
    if (!socket?.writable || this.corked.has(client)) return;
    this.corked.set(client, socket);
    socket.cork();
    this.endTurnSoon();
  }

  private endTurnSoon(): void {
    if (this.turnEnding) return;
    this.turnEnding = true;
    setImmediate(() => this.endTurn());
  }

  /** Queues each connection's WAIT behind the turn's writes, then lets them all go. */
  private endTurn(): void {
    this.turnEnding = false;
    for (const wait of this.waits.values()) wait.send();
    this.waits.clear();
    for (const socket of this.corked.values()) socket.uncork();
    this.corked.clear();
  }

  /** Latency recorders by node label, then call name, resolved once each. */
  private readonly recorders = new Map<string, Map<string, Recorder>>();

  private recorder(label: string, name: string): Recorder {
    let byName = this.recorders.get(label);
    if (byName === undefined) this.recorders.set(label, (byName = new Map()));
    let recorder = byName.get(name);
    if (recorder === undefined) byName.set(name, (recorder = redisCommandDuration.recorder(label, name)));
    return recorder;
  }

  /** `call` on the partition that owns `id`. */
  callFor<T>(id: string, name: string, op: (client: Redis) => Promise<T>): Promise<T> {
    return this.call(this.indexOf(id), name, op);
  }

  /** What the data lives on, for /ready and the start-up log: N shards, or a cluster's masters now. */
  layout(): { mode: "shards"; shards: number } | { mode: "cluster"; masters: number } {
    return this.topology.mode === "shards" ? { mode: "shards", shards: this.count } : { mode: "cluster", masters: this.topology.nodes().length };
  }

  /** For each node (shard, or cluster master), whether it answers PING. */
  async pingEach(): Promise<Array<[label: string, up: boolean]>> {
    const nodes = this.topology.nodes();
    const results = await Promise.allSettled(nodes.map(([, c]) => c.ping()));
    return results.map((r, i) => [nodes[i]![0], r.status === "fulfilled"]);
  }

  /** True when every node answers PING, and a cluster has a node for every slot. */
  async ready(): Promise<boolean> {
    const nodes = await this.pingEach();
    if (nodes.length === 0 || !nodes.every(([, up]) => up)) return false;
    return this.topology.whenReady(0).then(
      () => true,
      () => false,
    );
  }

  async close(): Promise<void> {
    await this.topology.close();
  }
}

/** A WAIT shared by the writes of one turn on one connection: `send` queues it, once. */
interface SharedWait {
  send: () => void;
  done: Promise<void>;
}

/** Chunks' worth of ids `inChunks` holds at most before it writes them all. */
const MAX_BUFFERED = 20;

/** MOVED or ASK replies followed for one call before it fails. */
const MAX_REDIRECTS = 3;
