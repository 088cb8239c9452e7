// What the HTTP transport needs of the host's client for one participant, and what a call is.
export interface ParticipantReply<T = unknown> {
  status: number;
  body: T;
}

export interface CallOptions {
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Shorter than the client's own timeout, e.g. what is left of a caller's deadline. */
  timeoutMs?: number;
}

/**
 * How the transport reaches one participant: a keep-alive HTTP client of the host's (it signs,
 * balances, times out). A thrown error means the outcome is unknown, unless `neverSent` says the
 * request never left.
 */
export interface ParticipantClient {
  request<T>(method: "GET" | "POST", path: string, options?: CallOptions): Promise<ParticipantReply<T>>;
  /** True when a failed request certainly never reached the participant (no connection could be made). */
  neverSent(err: unknown): boolean;
}
