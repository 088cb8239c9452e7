// Loading Lua scripts: each is read once, its includes resolved, and handed to the host by name
// (to define on its connections, run by EVALSHA). The engine's own scripts, and the includes a
// subject's or a participant's scripts share with it, live in ./lua.
import { readFileSync } from "node:fs";

const ENGINE_LUA = new URL("./lua/", import.meta.url);
/** An include of the engine's, from any script: `--@include "engine:txRecord.lua"`. */
const ENGINE_INCLUDE = "engine:";

/** The engine's scripts on the subject's shards (the transaction record and its indexes). */
export const TX_LOG_SCRIPTS = ["commitTx", "abortTx", "finishAbortTx", "settleTx", "failedTx", "renewTx", "pendingTransactions"] as const;
export type TxLogScript = (typeof TX_LOG_SCRIPTS)[number];

/**
 * Reads `<dir>/<name>.lua` for each name. A line `--@include "<path>"` is replaced by that file,
 * relative to the including one, or with `engine:` one of the engine's includes (lua/includes:
 * txRecord.lua for a subject's begin script, txMarker.lua for a participant's phases, txOpen.lua,
 * clock.lua). Each file is included at most once per script, so scripts share fragments the way
 * BullMQ's `includes/` do.
 */
export function loadLuaScripts<Name extends string>(dir: URL, names: readonly Name[]): Map<Name, string> {
  return new Map(names.map((name) => [name, readLua(new URL(`${name}.lua`, dir), new Set())]));
}

function readLua(file: URL, included: Set<string>): string {
  included.add(file.href);
  return readFileSync(file, "utf8").replace(/^--@include "([^"]+)"$/gm, (_, path: string) => {
    const target = path.startsWith(ENGINE_INCLUDE) ? new URL(`includes/${path.slice(ENGINE_INCLUDE.length)}`, ENGINE_LUA) : new URL(path, file);
    return included.has(target.href) ? "" : readLua(target, included);
  });
}

/**
 * The host's scripts with the engine's added: one call for a subject's service, whose shards then
 * run both (a RedisTxLog needs them defined there).
 */
export function withTxLogScripts<Name extends string>(own: Map<Name, string>): Map<Name | TxLogScript, string> {
  return new Map<Name | TxLogScript, string>([...own, ...loadLuaScripts(ENGINE_LUA, TX_LOG_SCRIPTS)]);
}
