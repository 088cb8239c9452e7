// What the engine needs of its host for logging and tracing, as interfaces: pino's logger fits
// `TxLogger`, and any tracer whose spans start child calls fits `TxContext`. Without them the
// engine logs nothing and traces nothing.

/** A structured logger: pino's signature. */
export interface TxLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A span of a trace: a request, or one call it makes. */
export interface TxSpan {
  /** A child span for one call to a participant. */
  startCall(method: string, path: string): TxSpan;
  end(status?: number, error?: Error): void;
}

/** What a transaction runs in: the request that asked for it, or the engine's background work. */
export interface TxContext {
  readonly log: TxLogger;
  readonly span: TxSpan;
  /** Headers that carry the trace to a participant (e.g. traceparent). */
  callHeaders(span: TxSpan): Record<string, string>;
}

/** Makes the context of the engine's own work (the recovery sweep, confirms, an operator's retry). */
export type BackgroundContext = (name: string) => TxContext;

const silentLogger: TxLogger = { info() {}, warn() {}, error() {} };
const noSpan: TxSpan = { startCall: () => noSpan, end() {} };

/** A context that logs through `log` (silent when omitted) and traces nothing. */
export function untracedContext(log: TxLogger = silentLogger): TxContext {
  return { log, span: noSpan, callHeaders: () => ({}) };
}
