// Who may do what on each service's Redis, for every deployment (the local stack, Compose, the
// chart): the service's own user, allowed only the commands the service sends; a replication user for replicas; a metrics user for the Redis exporter (INFO and little
// else); an admin user for the operator's and the tests' tools (and cluster formation); a health
// user, with no password, allowed only PING (so health checks tell a loading node from a ready
// one); and the default user, switched off, so a client that has not authenticated can do nothing.
import { createHash } from "node:crypto";
import { perService, type Service } from "../common/services.js";

/**
 * What every service sends itself (common/redis.ts): its scripts (EVALSHA, EVAL when a node lost
 * its script cache), the plain reads of its `find` routes and the engine's inspection, WAIT for
 * replicas, the connection's own handshake (AUTH is always allowed; INFO is ioredis's ready check;
 * SELECT for REDIS_DB), PING for /ready, and in cluster mode reading the slot map and ASKING
 * before a call that follows an ASK redirect while a slot migrates (common/topology.ts). Nothing that
 * lists, flushes, reconfigures or stops a node.
 */
export const CLIENT_COMMANDS = [
  "evalsha", "eval", "hmget", "hgetall", "get", "exists", "wait",
  "ping", "info", "select", "cluster|slots", "cluster|shards", "cluster|info", "cluster|myid", "readonly", "asking",
] as const;

/**
 * What each service's scripts call (Redis checks a script's calls against its user too): exactly
 * the commands in its scripts, which redis-acl.test.ts reads out of them.
 */
export const SCRIPT_COMMANDS: Record<Service, readonly string[]> = {
  order: ["del", "exists", "get", "hdel", "hget", "hgetall", "hincrby", "hlen", "hmget", "hset", "lrange", "pexpire", "rpush", "set", "time", "zadd", "zcard", "zcount", "zrangebyscore", "zrem"],
  stock: ["del", "exists", "get", "hget", "hincrby", "hset", "lrange", "pexpire", "rpush", "set", "time"],
  payment: ["decrby", "del", "exists", "get", "incrby", "lrange", "pexpire", "rpush", "set", "time"],
};

/** Every command `service`'s user may send, each once. */
export const serviceCommands = (service: Service): string[] => [...new Set([...CLIENT_COMMANDS, ...SCRIPT_COMMANDS[service]])];

/** What a replica sends its master to follow it. */
export const REPLICATION_COMMANDS = ["psync", "sync", "replconf", "ping"] as const;

/** What the Redis exporter reads: INFO (memory, maxmemory, keyspace, replication) and the slow log. */
export const METRICS_COMMANDS = ["info", "ping", "cluster|info", "slowlog|get", "slowlog|len", "latency|latest"] as const;

export const REPLICATION_USER = "replica";
export const METRICS_USER = "metrics";
export const ADMIN_USER = "admin";

/** The passwords a service's Redis nodes know: hashed in the ACL file, so a node never holds them in the clear. */
export interface RedisPasswords {
  service: string;
  replication: string;
  /** Left out where no admin user is wanted. */
  admin?: string;
  /** Left out where nothing scrapes the node. */
  metrics?: string;
}

export const sha256 = (password: string) => createHash("sha256").update(password).digest("hex");

const allow = (commands: readonly string[]) => commands.map((c) => `+${c}`).join(" ");

/**
 * What `service`'s own user may send, as ACL rules (the chart renders the same, helm.test.ts
 * checks). Any key: each service has Redis servers of its own in every deployment, where no other
 * service's user exists, so key patterns would guard nothing there; and Redis checks a user's key
 * patterns on every command a script calls, which cost a tenth of a script-heavy node's throughput
 * (BENCHMARKS.md, issue 25).
 */
export const serviceUserRules = (service: Service): string => `resetkeys ~* resetchannels -@all ${allow(serviceCommands(service))}`;
export const REPLICATION_USER_RULES = `resetkeys resetchannels -@all ${allow(REPLICATION_COMMANDS)}`;
export const ADMIN_USER_RULES = "~* &* +@all";
export const METRICS_USER_RULES = `resetkeys resetchannels -@all ${allow(METRICS_COMMANDS)}`;

/** A user's line in an ACL file, given its password's SHA-256 (as the file takes it). */
const userLine = (user: string, passwordHash: string, rules: string) => `user ${user} on #${passwordHash} ${rules}`;

export const serviceUserLine = (service: Service, passwordHash: string): string => userLine(service, passwordHash, serviceUserRules(service));
export const replicationUserLine = (passwordHash: string): string => userLine(REPLICATION_USER, passwordHash, REPLICATION_USER_RULES);
export const adminUserLine = (passwordHash: string): string => userLine(ADMIN_USER, passwordHash, ADMIN_USER_RULES);
export const metricsUserLine = (passwordHash: string): string => userLine(METRICS_USER, passwordHash, METRICS_USER_RULES);

/**
 * The default user is off: no client can authenticate as it, and one that has not authenticated
 * can run nothing. Its rules still allow everything because Redis 7.0 checks the commands it
 * replays from the AOF at start (a script's MULTI/EXEC) against the default user's rules: with
 * fewer, it drops those writes and acknowledged data is lost (test/auth.test.ts restarts a node).
 */
export const DEFAULT_USER_LINE = "user default off resetpass ~* &* +@all";
export const HEALTH_USER = "health";
/** Anyone may PING as the health user (any password), and do nothing else. */
export const HEALTH_USER_LINE = `user ${HEALTH_USER} on nopass resetkeys resetchannels -@all +ping`;
/** A health check's redis-cli arguments: PING as the health user. */
export const HEALTH_CHECK_ARGS = ["--user", HEALTH_USER, "--pass", HEALTH_USER, "--no-auth-warning", "ping"] as const;

/** The ACL file of every node of `service`'s Redis. */
export function aclFile(service: Service, passwords: RedisPasswords): string {
  return [
    DEFAULT_USER_LINE,
    HEALTH_USER_LINE,
    serviceUserLine(service, sha256(passwords.service)),
    replicationUserLine(sha256(passwords.replication)),
    ...(passwords.admin === undefined ? [] : [adminUserLine(sha256(passwords.admin))]),
    ...(passwords.metrics === undefined ? [] : [metricsUserLine(sha256(passwords.metrics))]),
    "",
  ].join("\n");
}

/** Every service's ACL file, for one set of passwords each. */
export const aclFiles = (passwords: Record<Service, RedisPasswords>): Record<Service, string> => perService((s) => aclFile(s, passwords[s]));
