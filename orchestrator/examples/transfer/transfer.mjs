// A transfer of money between accounts at two banks, each bank's accounts on a Redis server of its
// own, run by the engine as a saga or a two-phase commit. Not a shop: the engine's whole API on
// one page. `run.mjs` drives it from the command line.
//
//   subject       a transfer (transfer:{id}: from, to, amount), its record kept in its hash on
//                 the transfers' Redis servers, partitioned by id
//   participants  "source" takes the amount from `from` at bank A, "target" gives it to `to` at
//                 bank B; each phase one script on that bank's Redis (lua/)
import { LocalTransport, Orchestrator, perProtocol, phaseName, PHASE_NAMES, PROTOCOL_REFUSALS } from "@shardshop/orchestrator";
import { decodeSettlement, decodeTry, loadLuaScripts, RedisNodes, RedisTxLog, withTxLogScripts } from "@shardshop/orchestrator/redis";

const LUA = new URL("./lua/", import.meta.url);

/** Why an account refuses its part. */
export const ACCOUNT_REFUSALS = ["insufficient_funds", "unknown_account"];
/** Why a transfer cannot start. */
export const TRANSFER_REFUSALS = ["not_found", "made"];

const accountKey = (id) => `account:{${id}}`;
const markerKey = (id, tx) => `account:{${id}}:tx:${tx}`;
const transferKey = (id) => `transfer:{${id}}`;

/** One bank: accounts on one Redis server, and the participant's handlers for every protocol. */
export class Bank {
  constructor(url, windowMs) {
    this.redis = new RedisNodes([url], loadLuaScripts(LUA, PHASE_NAMES));
    this.windowMs = windowMs;
  }

  open(account, balance) {
    return this.redis.clients[0].hset(accountKey(account), "balance", balance, "held", 0);
  }

  async account(account) {
    const [balance, held] = await this.redis.clients[0].hmget(accountKey(account), "balance", "held");
    return { balance: Number(balance), held: Number(held) };
  }

  run(script, keys, args) {
    return this.redis.run(0, script, keys, args);
  }

  /** What each phase does here: one script each, named after the phase. */
  handlers() {
    const reasons = [...ACCOUNT_REFUSALS, ...PROTOCOL_REFUSALS];
    return perProtocol((protocol) => ({
      try: async ({ tx, account, delta }) => {
        const script = phaseName(protocol, "try");
        return decodeTry(script, reasons, await this.run(script, [accountKey(account), markerKey(account, tx)], [delta, tx, this.windowMs]));
      },
      cancel: async ({ tx, account }) => {
        const script = phaseName(protocol, "cancel");
        return decodeSettlement(script, await this.run(script, [accountKey(account), markerKey(account, tx)], [tx, this.windowMs]));
      },
      confirm: async (parts) => {
        const script = phaseName(protocol, "confirm");
        const keys = parts.flatMap(({ tx, account }) => [accountKey(account), markerKey(account, tx)]);
        return decodeSettlement(script, await this.run(script, keys, [...parts.map((p) => p.tx), this.windowMs]));
      },
    }));
  }

  close() {
    return this.redis.close();
  }
}

/** The transfers: each one's hash, which also holds its transaction record, on the transfers' servers. */
export class Transfers {
  constructor(urls) {
    this.redis = new RedisNodes(urls, withTxLogScripts(loadLuaScripts(LUA, ["beginTransfer"])));
    this.log = new RedisTxLog(this.redis, {
      recordKey: transferKey,
      pendingKey: "transfers:open",
      parkedKey: "transfers:parked",
      beginScript: "beginTransfer",
      extraKeys: () => [],
      extraArgs: [],
      payload: ([from, to, amount]) => ({ from, to, amount: Number(amount) }),
      refusals: TRANSFER_REFUSALS,
      commitFields: ["made", "1"],
    });
  }

  create(id, from, to, amount) {
    const key = transferKey(id);
    return this.redis.clients[this.redis.partitionOf(key)].hset(key, "from", from, "to", to, "amount", amount);
  }

  close() {
    return this.redis.close();
  }
}

/** The transfer as a transaction: the source's part first (its refusal is the one reported). */
export const transfer = {
  participants: [
    ["source", (t) => ({ account: t.from, delta: -t.amount })],
    ["target", (t) => ({ account: t.to, delta: t.amount })],
  ],
  refusals: ACCOUNT_REFUSALS,
};

/** An engine for transfers between bank A (source) and bank B (target). */
export function transferEngine({ transfers, source, target, ...options }) {
  return new Orchestrator({
    definition: transfer,
    log: transfers.log,
    transport: new LocalTransport({ source: source.handlers(), target: target.handlers() }),
    ...options,
  });
}
