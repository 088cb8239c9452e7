// Redis commands per answer, by service: what a round asked of each service's shards, counted by
// the shards themselves (INFO commandstats: a script's call and every command it made). Unlike CPU
// time, a count does not drift with the machine's speed, so a change of protocol that saves one
// command per checkout shows as exactly that.
import type { Redis } from "ioredis";
import { perService, SERVICES, type Service } from "../common/services.js";

/** Calls per command, summed over a service's shards. */
export type CommandCounts = Record<Service, Map<string, number>>;
/** Per answer: each service's commands in all, and by command ("evalsha", "hincrby", ...). */
export type CommandsPerRequest = Record<Service, { total: number; byCommand: Record<string, number> }>;

/** What the counting itself and connecting clients make: not the shop's work. */
const OWN = new Set(["info", "auth", "hello", "client|setinfo", "client|setname", "select", "ping"]);

/**
 * Each service's calls per command so far, from INFO commandstats of each of its shards; a replica
 * (a Redis Cluster's) is left out, as it counts again each command its master made.
 */
export async function commandCounts(shards: Record<Service, Redis[]>): Promise<CommandCounts> {
  const counts = perService(() => new Map<string, number>());
  await Promise.all(
    SERVICES.flatMap((s) =>
      shards[s].map(async (shard) => {
        const info = (await shard.call("INFO", "replication", "commandstats")) as string;
        if (/^role:slave/m.test(info)) return;
        for (const [, command, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
          if (!OWN.has(command!)) counts[s].set(command!, (counts[s].get(command!) ?? 0) + Number(calls));
        }
      }),
    ),
  );
  return counts;
}

/** The commands made between two counts, per answer of the round between them. */
export function commandsPerRequest(before: CommandCounts, after: CommandCounts, requests: number): CommandsPerRequest {
  return perService((s) => {
    const byCommand: Record<string, number> = {};
    for (const [command, calls] of after[s]) {
      const made = calls - (before[s].get(command) ?? 0);
      if (made > 0) byCommand[command] = made / Math.max(1, requests);
    }
    return { total: Object.values(byCommand).reduce((a, b) => a + b, 0), byCommand };
  });
}
