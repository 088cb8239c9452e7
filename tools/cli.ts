// Argument handling shared by the command-line tools (compose generator, bench, consistency, chaos, residue).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TX_PROTOCOLS, type TxProtocol } from "@shardshop/orchestrator";

/** Reads `--name value` and `--flag` arguments. */
export function parseArgs(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq > 0) args.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) args.set(arg.slice(2), argv[++i]!);
    else args.set(arg.slice(2), "true");
  }
  return args;
}

/** True when this module is the program being run (not imported by a test). */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === new URL(`file://${process.argv[1]}`).href;
}

/** Prints the leading comment of the running tool (its usage) when --help is given, and exits. */
export function helpFromHeader(metaUrl: string, args: Map<string, string>): void {
  if (!args.has("help")) return;
  const lines = readFileSync(fileURLToPath(metaUrl), "utf8").split("\n");
  const header = lines.slice(0, lines.findIndex((l) => !l.startsWith("//"))).map((l) => l.replace(/^\/\/ ?/, ""));
  console.log(header.join("\n"));
  process.exit(0);
}

/** The value of --protocol (or TX_PROTOCOL), or exits naming the protocols there are. */
export function protocolArg(value: string): TxProtocol {
  const protocol = TX_PROTOCOLS.find((p) => p === value);
  if (protocol) return protocol;
  console.error(`--protocol must be one of ${TX_PROTOCOLS.join(", ")}, not ${value}`);
  process.exit(2);
}
