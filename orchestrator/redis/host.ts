// What the Redis storage needs of its host: partitions (a shard, or a cluster slot), the node that
// serves each, and running a named script there. A host with its own sharding (the shop's Shards)
// adapts to it; `RedisNodes` is one for a fixed list of Redis servers.
import { Redis, ReplyError } from "ioredis";

export type ScriptReply = string | number | null | ScriptReply[];

export interface RedisHost {
  /** Groups of partitions the recovery sweep reads one at a time (e.g. the shards). */
  readonly sweepGroups: number;
  /** The partitions of one sweep group, in lists of those one node serves (one script reads a list). */
  partitionsByNode(group: number): number[][];
  /** The partition a key (a subject's record) lives in. */
  partitionOf(key: string): number;
  /** The name of a per-partition key (an index) in one partition: `base` itself, unless partitions share a node. */
  partitionKey(base: string, partition: number): string;
  /** Runs a script (registered with withTxLogScripts) on the node serving `partition`; every key is in it. */
  run(partition: number, script: string, keys: string[], args: Array<string | number>): Promise<ScriptReply>;
  /** A plain read of hash fields. */
  hmget(key: string, fields: string[]): Promise<Array<string | null>>;
  /**
   * Whether a failed call may be tried again: the node did not answer (the outcome is unknown) or
   * refused it unrun (loading, failing over). Every write of the engine's is idempotent.
   */
  isStorageFailure(err: unknown): boolean;
}

/** Refusals a node answers while it cannot serve yet; nothing was run. */
const TRANSIENT = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY)\b/;

/**
 * A RedisHost over a fixed list of Redis servers, each its own partition: a key is placed by a
 * hash of its hash tag (`{...}`), or of the whole key. Its clients never re-send a command whose
 * answer was lost (`autoResendUnfulfilledCommands: false`): the engine decides what to retry.
 */
export class RedisNodes implements RedisHost {
  readonly clients: Redis[];

  constructor(urls: string[], scripts: Map<string, string>) {
    this.clients = urls.map((url) => {
      const client = new Redis(url, { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 1, lazyConnect: false });
      for (const [name, lua] of scripts) client.defineCommand(name, { lua });
      return client;
    });
  }

  get sweepGroups(): number {
    return this.clients.length;
  }

  partitionsByNode(group: number): number[][] {
    return [[group]];
  }

  partitionOf(key: string): number {
    const open = key.indexOf("{");
    const close = open >= 0 ? key.indexOf("}", open + 1) : -1;
    const tag = close > open + 1 ? key.slice(open + 1, close) : key;
    // FNV-1a, 32 bits.
    let hash = 0x811c9dc5;
    for (let i = 0; i < tag.length; i++) hash = Math.imul(hash ^ tag.charCodeAt(i), 0x01000193) >>> 0;
    return hash % this.clients.length;
  }

  partitionKey(base: string): string {
    return base;
  }

  run(partition: number, script: string, keys: string[], args: Array<string | number>): Promise<ScriptReply> {
    const client = this.clients[partition]! as unknown as Record<string, (...a: Array<string | number>) => Promise<ScriptReply>>;
    return client[script]!(keys.length, ...keys, ...args);
  }

  hmget(key: string, fields: string[]): Promise<Array<string | null>> {
    return this.clients[this.partitionOf(key)]!.hmget(key, ...fields);
  }

  isStorageFailure(err: unknown): boolean {
    return !(err instanceof ReplyError) || TRANSIENT.test((err as Error).message);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
