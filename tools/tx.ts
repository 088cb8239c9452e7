// `npm run tx -- <command> [order] [--url URL]`: the checkout transactions still open, for an
// operator, through an order instance's internal routes (order/operator.ts).
//
//   list            open transactions, parked ones first: age, protocol, state, lease, and each
//                   participant's outcome in the last drive that failed
//   show ORDER      the open transaction of one order
//   retry ORDER     drives a parked one again now (its cancels or confirms); it closes, or is
//                   parked again with the new outcomes
//   resolve ORDER   closes a parked one as decided, without calling the participants: only once
//                   they were settled by hand
//
//   --url URL       an order instance (not the gateway, which never routes internal calls).
//                   Default: ORDER_URL, else the first order instance `npm start` recorded in
//                   data/stack.json. In Compose: docker compose exec order-1 node dist/tools/tx.js
//                   list --url http://127.0.0.1:8080
//   --json          prints the answer as JSON
//
// The routes answer only a caller holding the order service's key (common/internal-auth.ts): taken
// from ORDER_INTERNAL_KEY, else from INTERNAL_KEYS or INTERNAL_KEYS_FILE (as inside an order
// container), else from data/stack.json (this run of `npm start`).
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { commaList, loadConfig, secretKey } from "../common/config.js";
import { ServiceClient } from "../common/http.js";
import { RequestSigner } from "../common/internal-auth.js";
import { OPERATOR_ROUTE } from "../order/operator.js";
import { helpFromHeader, isMain, parseArgs } from "./cli.js";

const COMMANDS = ["list", "show", "retry", "resolve"] as const;
type Command = (typeof COMMANDS)[number];

/** What the operator routes answer for one transaction. */
interface Transaction {
  subject: string;
  tx: string;
  protocol: string;
  state: string;
  reason: string;
  parked: boolean;
  age_ms: number;
  lease_left_ms: number;
  failures: number;
  last_outcomes: string;
}

interface RecordedStack {
  order: string[];
  orderKey?: string;
}

const recordedStack = (): RecordedStack | undefined => {
  const file = `${process.env.DATA_DIR ?? "data"}/stack.json`;
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as RecordedStack) : undefined;
};

function orderUrl(args: Map<string, string>): string {
  const given = args.get("url") ?? process.env.ORDER_URL;
  if (given) return given.replace(/\/$/, "");
  const recorded = recordedStack();
  if (recorded) return recorded.order[0]!;
  console.error("no order instance to ask: give --url http://host:port (an order instance), or set ORDER_URL");
  process.exit(2);
}

/** Where the key may come from (any of them also as NAME_FILE, as in the services). */
const keyConfig = z.object({
  ORDER_INTERNAL_KEY: secretKey.optional(),
  /** Inside an order container: the keys its internal routes accept. */
  INTERNAL_KEYS: commaList(secretKey).optional(),
});

function orderKey(): string {
  const { ORDER_INTERNAL_KEY, INTERNAL_KEYS } = loadConfig("tx", keyConfig);
  const key = ORDER_INTERNAL_KEY ?? INTERNAL_KEYS?.[0] ?? recordedStack()?.orderKey;
  if (key) return key;
  console.error("no key for the order service's internal routes: set ORDER_INTERNAL_KEY (or run this inside an order container)");
  process.exit(2);
}

/** Longer than a retry takes: it drives the transaction's cancels or confirms before it answers. */
const TIMEOUT_MS = 120_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** One line per transaction. */
export function formatTransaction(t: Transaction): string {
  const state = t.state === "aborting" ? `aborting (${t.reason})` : t.state;
  const lease = t.parked ? `next retry in ${seconds(t.lease_left_ms)}` : t.lease_left_ms >= 0 ? `lease ${seconds(t.lease_left_ms)}` : "waiting for recovery";
  const failed = t.failures ? `, ${t.failures} failed drive(s), last: ${t.last_outcomes}` : "";
  return `${t.parked ? "PARKED " : ""}${t.subject}  ${t.protocol} ${state}, ${seconds(t.age_ms)} old, ${lease}${failed}  [${t.tx}]`;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [command, subject] = argv.filter((a, i) => !a.startsWith("--") && !(i > 0 && argv[i - 1] === "--url"));
  if (!COMMANDS.includes(command as Command) || (command !== "list" && !subject)) {
    console.error(`usage: npm run tx -- ${COMMANDS.join("|")} [order] [--url URL] (--help for more)`);
    return 2;
  }
  const target = `${OPERATOR_ROUTE}${command === "list" ? "" : `/${encodeURIComponent(subject!)}${command === "show" ? "" : `/${command}`}`}`;
  const reads = command === "list" || command === "show";
  // The client every internal call goes through, signing as the order service's own callers do.
  const client = new ServiceClient([orderUrl(args)], { timeoutMs: TIMEOUT_MS, signer: new RequestSigner("order", orderKey()) });
  const reply = await client.request<Record<string, unknown>>(reads ? "GET" : "POST", target, reads ? {} : { body: {} }).finally(() => client.close());
  const { body } = reply;
  const ok = reply.status >= 200 && reply.status < 300;
  if (args.has("json") || !ok) {
    (ok ? console.log : console.error)(JSON.stringify(body, null, 2));
    return ok ? 0 : 1;
  }
  switch (command as Command) {
    case "list": {
      const { open, parked, transactions } = body as { open: number; parked: number; transactions: Transaction[] };
      console.log(`${open} open transaction(s), ${parked} parked`);
      for (const t of transactions) console.log(formatTransaction(t));
      break;
    }
    case "show":
      console.log(formatTransaction(body as unknown as Transaction));
      break;
    case "retry": {
      const { outcome, closed, open } = body as { outcome: { kind: string; reason?: string }; closed: boolean; open?: Transaction };
      console.log(`${subject}: ${outcome.kind}${outcome.reason ? ` (${outcome.reason})` : ""}; ${closed ? "closed" : `still open: ${formatTransaction(open!)}`}`);
      break;
    }
    case "resolve":
      console.log(`${subject}: resolved by hand and closed`);
      break;
  }
  return 0;
}

if (isMain(import.meta.url)) {
  helpFromHeader(import.meta.url, parseArgs(process.argv.slice(2)));
  process.exitCode = await run(process.argv.slice(2));
}
