// Where a service's data lives, for `Shards`: the partitions a script may touch (each script
// touches one) and the connection that serves each partition now. In `shards` mode a partition is
// one of N independent masters, routed by keyslot range; in `cluster` mode it is one of a Redis
// Cluster's 16384 slots, served by whichever master owns the slot.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { BaseConfig, RedisMode } from "./config.js";
import { shardIndexOf, SLOT_COUNT, slotOf, slotTag } from "./shards.js";

export interface Topology {
  readonly mode: RedisMode;
  /** How many partitions there are: shards, or slots. */
  readonly partitions: number;
  partitionOf(id: string): number;
  /** The name of `base` in `partition`, for a key that each partition has one of (an index). */
  partitionKey(base: string, partition: number): string;
  /** The connection serving `partition` now; undefined while a cluster's slots are not known yet. */
  connection(partition: number): Redis | undefined;
  /** Resolves once every partition has a connection, or rejects after `ms`. */
  whenReady(ms: number): Promise<void>;
  /** Label of the node serving `partition`, for metrics: a shard's number, or a node's address. */
  label(partition: number): string;
  /** Ranges of partitions the recovery sweep reads in one go each. */
  readonly sweepGroups: number;
  partitionsOfGroup(group: number): number[];
  /** Each node that serves partitions, by label: the shards, or the cluster's masters. */
  nodes(): Array<[label: string, client: Redis]>;
  /** Replicas that must acknowledge a script's writes before it counts (WAIT); 0 for none. */
  readonly minReplicas: number;
  /**
   * After an error a call to `partition` met: the connection to make it again on when the error
   * says the partition lives elsewhere (MOVED: its new owner, while the slot map is refreshed;
   * ASK: the node importing it, with ASKING sent first), since the call then did not run.
   * Undefined when the error stands.
   */
  redirect(err: unknown, partition: number): Promise<Redis | undefined>;
  /** The slot map may be stale (a connection failed, or a MOVED came): a cluster refreshes it. */
  refreshSoon(): void;
  close(): Promise<void>;
}

const addressOf = (client: Redis) => `${client.options.host}:${client.options.port}`;

function parseAddress(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(addr.slice(i + 1)) };
}

export function createTopology(config: BaseConfig, options: RedisOptions): Topology {
  return config.REDIS_MODE === "cluster" ? new ClusterTopology(config, options) : new ShardTopology(config, options);
}

class ShardTopology implements Topology {
  readonly mode = "shards";
  readonly minReplicas = 0;
  private readonly clients: Redis[];
  private readonly labels: string[];

  constructor(config: BaseConfig, options: RedisOptions) {
    this.clients = config.REDIS_ADDRS.map((addr) => {
      const client = new Redis({ ...options, ...parseAddress(addr) });
      // Connection errors surface on the commands that need the shard; keep the process alive.
      client.on("error", () => {});
      return client;
    });
    this.labels = this.clients.map((_, i) => String(i));
  }

  get partitions(): number {
    return this.clients.length;
  }

  get sweepGroups(): number {
    return this.clients.length;
  }

  partitionOf(id: string): number {
    return shardIndexOf(id, this.clients.length);
  }

  partitionKey(base: string): string {
    return base;
  }

  connection(partition: number): Redis {
    return this.clients[partition]!;
  }

  async whenReady(): Promise<void> {}

  label(partition: number): string {
    return this.labels[partition]!;
  }

  partitionsOfGroup(group: number): number[] {
    return [group];
  }

  nodes(): Array<[string, Redis]> {
    return this.clients.map((c, i) => [this.labels[i]!, c]);
  }

  async redirect(): Promise<undefined> {
    return undefined;
  }

  refreshSoon(): void {}

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.quit()));
  }
}

/** Slots per recovery-sweep group: 16 groups, each read with one script per master it spans. */
const SLOTS_PER_SWEEP_GROUP = 1024;

class ClusterTopology implements Topology {
  readonly mode = "cluster";
  readonly partitions = SLOT_COUNT;
  readonly sweepGroups = SLOT_COUNT / SLOTS_PER_SWEEP_GROUP;
  readonly minReplicas: number;
  private readonly cluster: Cluster;
  /** The cluster's connections by node address, kept in step with its node list. */
  private readonly byAddress = new Map<string, Redis>();

  constructor(config: BaseConfig, options: RedisOptions) {
    this.minReplicas = config.REDIS_MIN_REPLICAS_ACKED;
    this.cluster = new Cluster(config.REDIS_ADDRS.map(parseAddress), {
      // Calls go straight to the connection of the node that owns their slot (connection()), with
      // these options; the Cluster client keeps the slot map and the connections.
      redisOptions: options,
      slotsRefreshTimeout: Math.max(config.REDIS_TIMEOUT_MS, 1000),
      slotsRefreshInterval: 2000,
    });
    this.cluster.on("error", () => {});
    const track = () => {
      this.byAddress.clear();
      for (const node of this.cluster.nodes("all")) this.byAddress.set(addressOf(node), node);
    };
    this.cluster.on("+node", track);
    this.cluster.on("-node", track);
    this.cluster.on("refresh", track);
  }

  partitionOf(id: string): number {
    return slotOf(id);
  }

  partitionKey(base: string, partition: number): string {
    return `${base}:{${slotTag(partition)}}`;
  }

  connection(partition: number): Redis | undefined {
    const address = this.cluster.slots[partition]?.[0];
    return address === undefined ? undefined : this.byAddress.get(address);
  }

  async whenReady(ms: number): Promise<void> {
    if (this.connection(0) && this.connection(SLOT_COUNT - 1)) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the cluster's slots are not known yet")), ms);
    });
    try {
      await Promise.race([this.nextRefresh(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The slot map's next refresh: one listener, however many calls wait for it (each calls before the first map). */
  private refreshed?: Promise<void>;
  private nextRefresh(): Promise<void> {
    return (this.refreshed ??= new Promise<void>((resolve) =>
      this.cluster.once("refresh", () => {
        this.refreshed = undefined;
        resolve();
      }),
    ));
  }

  label(partition: number): string {
    return this.cluster.slots[partition]?.[0] ?? "unknown";
  }

  partitionsOfGroup(group: number): number[] {
    return Array.from({ length: SLOTS_PER_SWEEP_GROUP }, (_, i) => group * SLOTS_PER_SWEEP_GROUP + i);
  }

  nodes(): Array<[string, Redis]> {
    return this.cluster.nodes("master").map((node) => [addressOf(node), node]);
  }

  async redirect(err: unknown, partition: number): Promise<Redis | undefined> {
    const match = /^(MOVED|ASK) \d+ (\S+)$/.exec((err as Error)?.message ?? "");
    if (!match) return undefined;
    if (match[1] === "MOVED") {
      // The slot has a new owner, which said so: go there now, and learn the new map meanwhile.
      this.refreshSoon();
      const owner = this.byAddress.get(match[2]!);
      if (owner) return owner;
      await new Promise<void>((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
      return this.byAddress.get(match[2]!) ?? this.connection(partition);
    }
    const target = this.byAddress.get(match[2]!);
    // ASKING holds for the next command on the connection only; both leave in one corked write.
    void target?.asking().catch(() => {});
    return target;
  }

  private lastRefresh = 0;

  refreshSoon(): void {
    // At most every 200 ms: during a failover every call to the lost master fails.
    if (Date.now() - this.lastRefresh < 200) return;
    this.lastRefresh = Date.now();
    this.cluster.refreshSlotsCache();
  }

  async close(): Promise<void> {
    await this.cluster.quit().catch(() => {});
  }
}
