// The transfer example from the command line; each line printed is one JSON object.
//   node run.mjs <bank A redis url> <bank B redis url> <protocol: saga | 2pc> <command>
// commands:
//   open                 opens alice at A with 100 and bob at B with 0
//   transfer <id> <n>    moves n from alice to bob; prints the outcome
//   die <id> <n> <point> the same, but the process dies (SIGKILL) at a fault point mid-transaction,
//                        e.g. after-source: A took the money and B has not been asked
//   recover              runs the recovery sweep until no transfer is open; prints what it finished
//   balances             prints both accounts
// Transfers' records live on both servers (partitioned by id): a transaction may span all three roles.
import { DEFAULT_TX_WINDOW_MS, faultPoints, untracedContext } from "@shardshop/orchestrator";
import { Bank, transferEngine, Transfers } from "./transfer.mjs";

const [urlA, urlB, protocol, command, ...args] = process.argv.slice(2);
const source = new Bank(urlA, DEFAULT_TX_WINDOW_MS);
const target = new Bank(urlB, DEFAULT_TX_WINDOW_MS);
const transfers = new Transfers([urlA, urlB]);
const print = (line) => console.log(JSON.stringify(line));
const balances = async () => ({ alice: await source.account("alice"), bob: await target.account("bob") });

const point = command === "die" ? args[2] : undefined;
if (point && !faultPoints(["source", "target"]).includes(point)) throw new Error(`no fault point ${point}`);
const engine = transferEngine({
  transfers,
  source,
  target,
  protocol,
  leaseMs: 500,
  // The crash a recovery test needs: this process dies where a real one might.
  onFaultPoint: (at) => at === point && process.kill(process.pid, "SIGKILL"),
});

switch (command) {
  case "open":
    await source.open("alice", 100);
    await target.open("bob", 0);
    print(await balances());
    break;
  case "transfer":
  case "die": {
    const [id, amount] = args;
    await transfers.create(id, "alice", "bob", Number(amount));
    print({ transfer: id, outcome: await engine.run(id, untracedContext()) });
    break;
  }
  case "recover": {
    let finished = 0;
    for (;;) {
      finished += await engine.recover();
      const open = await engine.transactions(100);
      if (open.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    print({ recovered: finished });
    break;
  }
  case "balances":
    print(await balances());
    break;
  default:
    throw new Error(`unknown command ${command}`);
}
await engine.sendQueuedConfirms();
await Promise.all([source.close(), target.close(), transfers.close()]);
