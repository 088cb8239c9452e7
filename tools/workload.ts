// Shared by the consistency test, the benchmark and the chaos run: a keep-alive HTTP client for
// the public API, bounded concurrency, a seeded random source, and a workload's progress to wait on.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";

export interface Answer<T = any> {
  status: number;
  body: T;
  contentType: string | null;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A keep-alive client bound to one base URL, for the tests and the load tools alike. Requests that
 * fail on the network answer status 0; a body that is not JSON is kept as text.
 */
export function apiClient(baseUrl: string, connections = 128) {
  const dispatcher = new Agent({ connections, keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const base = baseUrl.replace(/\/$/, "");
  const call = async <T = any>(method: "GET" | "POST" | "DELETE", path: string, headers?: Record<string, string>): Promise<Answer<T>> => {
    try {
      const res = await request(base + path, { method, dispatcher, headers });
      const text = await res.body.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON: keep the text */
      }
      const type = res.headers["content-type"];
      return { status: res.statusCode, body: body as T, contentType: (Array.isArray(type) ? type[0] : type) ?? null, headers: res.headers };
    } catch (err) {
      return { status: 0, body: { error: (err as Error).message } as T, contentType: null, headers: {} };
    }
  };
  return {
    base,
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>("GET", path, headers),
    post: <T = any>(path: string, headers?: Record<string, string>) => call<T>("POST", path, headers),
    delete: <T = any>(path: string, headers?: Record<string, string>) => call<T>("DELETE", path, headers),
    /**
     * A POST sent with a new Idempotency-Key, and sent again with the same key while its answer is
     * lost (no answer, the gateway's 502, a 503): a repeat applies nothing, so the request is
     * applied at most once, and its answer is the first one's.
     */
    postOnce: async <T = any>(path: string, attempts = 10): Promise<Answer<T>> => {
      const headers = { "idempotency-key": randomUUID() };
      for (let attempt = 1; ; attempt++) {
        const answer = await call<T>("POST", path, headers);
        if (![0, 502, 503].includes(answer.status) || attempt >= attempts) return answer;
        await sleep(Math.min(50 * 2 ** attempt, 1000));
      }
    },
    close: () => dispatcher.close(),
  };
}
export type Api = ReturnType<typeof apiClient>;

/** Maps `items` through `fn` with at most `limit` calls in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A small seeded generator (mulberry32), so a run can be repeated exactly. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (below: number) => Math.floor(next() * below),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!,
  };
}

/**
 * A workload's progress, for what runs beside it (a killer, a fault) to wait on, and the workload
 * on it: requests sent and answered, and how many may be sent now. A waiter is woken synchronously
 * by the change that satisfies it, so it acts before any further I/O, with the rest in flight;
 * once the workload has ended, a waiter still unsatisfied fails, naming what never came.
 */
export class Progress {
  sent = 0;
  answered = 0;
  /** Requests that may be sent now. */
  limit = Number.POSITIVE_INFINITY;
  private ended = false;
  private waiters: Array<{ test: () => boolean; what: string; resolve: () => void; reject: (e: Error) => void }> = [];

  until(test: () => boolean, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    if (this.ended) return Promise.reject(new Error(`the workload ended before ${what}`));
    return new Promise((resolve, reject) => this.waiters.push({ test, what, resolve, reject }));
  }
  /** Requests allowed to be sent: those sent, and those woken to be sent next. */
  private reserved = 0;
  /** Waits until one more request may be sent, and reserves its place; the caller sends it at once. */
  maySend(): Promise<void> {
    return this.until(() => this.reserved < this.limit && ++this.reserved > 0, "a request could be sent");
  }
  update(change: Partial<Pick<Progress, "sent" | "answered" | "limit">>): void {
    Object.assign(this, change);
    this.changed();
  }
  end(): void {
    this.ended = true;
    this.changed();
  }
  private changed(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.test()) w.resolve();
      else if (this.ended) w.reject(new Error(`the workload ended before ${w.what}`));
      else return true;
      return false;
    });
  }
}
