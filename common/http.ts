// The client for calls between services: keep-alive connection pools with explicit timeouts.
// A thrown error (reset, timed out) means the callee's outcome is unknown, unless `neverSent` says
// the request never left (no connection could be made). It is the engine's ParticipantClient.
import type { CallOptions, ParticipantClient, ParticipantReply } from "@shardshop/orchestrator/http";
import { BalancedPool, Pool, type Dispatcher } from "undici";
import { AUTH_HEADER, type RequestSigner } from "./internal-auth.js";

/** The header a client sends to make a change safe to repeat (common/idempotency.ts; the gateways re-send such requests). */
export const IDEMPOTENCY_HEADER = "idempotency-key";

/**
 * The header a gateway sets, to a new random value, on every public change that carries no
 * Idempotency-Key, replacing any a client sent: it makes that one request safe to re-send to
 * another instance when the first dies with it in flight (common/idempotency.ts).
 */
export const RETRY_KEY_HEADER = "x-shardshop-retry-key";

/**
 * How long a gateway's retry key is remembered: longer than the gateway re-sends a change for
 * (RETRY_WINDOW_MS), short enough that a key per public change costs little memory.
 */
export const RETRY_KEY_TTL_MS = 30_000;

/**
 * How long after sending a change a gateway may still send it again: past the services' own
 * storage retries (STORAGE_RETRY_MS), within the key's lifetime. deploy/nginx.ts and the local gateway follow it.
 */
export const RETRY_WINDOW_MS = 20_000;

/** How long a gateway waits for one attempt of a change before it sends it again: within the window. */
export const RETRY_ATTEMPT_TIMEOUT_MS = 15_000;

/** Connection errors that prove a request never reached its server. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENOTFOUND"]);

export interface ServiceClientOptions {
  /** Longest wait for a whole answer; past it the call fails as "outcome unknown". */
  timeoutMs: number;
  /** Connections per upstream. */
  connections?: number;
  /** Signs every request with the key the callee accepts on its internal routes (internal-auth.ts). */
  signer?: RequestSigner;
}

export class ServiceClient implements ParticipantClient {
  private readonly dispatcher: Dispatcher;
  private readonly signer: RequestSigner | undefined;

  /** Several URLs are balanced across (e.g. one per instance in the local stack). */
  constructor(urls: string[], options: ServiceClientOptions) {
    const poolOptions: Pool.Options = {
      connections: options.connections ?? 128,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: Math.min(options.timeoutMs, 2000),
    };
    this.signer = options.signer;
    this.dispatcher =
      urls.length === 1 ? new Pool(urls[0]!, poolOptions) : new BalancedPool(urls, poolOptions);
  }

  /** One request; `headers` carry the trace context. */
  async request<T>(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<ParticipantReply<T>> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    // Object.assign, not a spread: V8 copies a spread object literal many times slower, and this
    // runs twice per checkout.
    const headers: Record<string, string> | undefined =
      payload === undefined ? options.headers : Object.assign({ "content-type": "application/json" }, options.headers);
    // Signed at each attempt, so a retry is a new request, not a replay of the last one.
    const signed = this.signer ? Object.assign({ [AUTH_HEADER]: this.signer.sign(method, path, payload) }, headers) : headers;
    // A timeout of its own only when asked: a per-request value makes undici arm a new timer.
    const timeout = options.timeoutMs;
    const res = await this.dispatcher.request(
      timeout === undefined
        ? { method, path, headers: signed, body: payload }
        : { method, path, headers: signed, body: payload, headersTimeout: timeout, bodyTimeout: timeout },
    );
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = { error: text };
    }
    return { status: res.statusCode, body: parsed as T };
  }

  /** True when a failed request certainly never reached the server, so nothing of it was applied. */
  neverSent(err: unknown): boolean {
    const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    return !!code && NOT_SENT_CODES.has(code);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
