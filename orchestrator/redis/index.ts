// The Redis adapter: the transaction record as scripts on the subject's partition, the Lua every
// participant's phase scripts share (the marker protocol), and a host for plain Redis servers.
export { RedisTxLog, type RecordLayout } from "./log.js";
export { RedisNodes, type RedisHost, type ScriptReply } from "./host.js";
export { loadLuaScripts, withTxLogScripts, TX_LOG_SCRIPTS, type TxLogScript } from "./scripts.js";
export { decodeTry, decodeSettlement, UnexpectedReplyError, DONE } from "./replies.js";
