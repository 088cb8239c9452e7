// Coalesces the tries (or the cancels) bound for one participant: the calls made in one turn of
// the event loop travel as one HTTP request to the participant's batch route, which runs each
// transaction's phase and answers one result per transaction. Under load, a burst of checkouts
// whose begins were answered in one Redis read issues its tries in the same turn, so the
// participant handles one request instead of dozens; a call made alone goes by the single route
// as before, so light load pays nothing but the wait for the turn to end.
//
// Every guarantee stays with the transaction, not the batch: each gets its own answer (done,
// refused, invalid, or a failure that makes its outcome unknown); a batch that fails or is lost
// fails each of its calls (so each is retried, then cancelled, on its own); a batch rejected as a
// whole (a 4xx) sends each call alone, so none is refused for another's body; and each call still
// goes through the breaker and its retry policy in transport.ts.
import type { BatchResult } from "../participant.js";
import type { CallOptions, ParticipantReply } from "./client.js";

interface Call<T> {
  /** The transaction's body, headers and timeout, as the single route would be sent them. */
  options: CallOptions;
  resolve: (reply: ParticipantReply<T>) => void;
  reject: (err: unknown) => void;
}

/** How one batch is sent, and how one call alone is. */
export interface BatchSender {
  one<T>(options: CallOptions): Promise<ParticipantReply<T>>;
  many(bodies: unknown[], options: CallOptions): Promise<ParticipantReply<{ results?: BatchResult[] }>>;
}

/** The single route's status for one transaction's batched result (see participant.ts). */
const STATUS: Record<BatchResult["status"], number> = { done: 200, refused: 409, invalid: 400, unknown: 503 };

export class Coalescer {
  private queue: Array<Call<unknown>> = [];
  private scheduled = false;
  /** Batch sizes sent, for the metrics. */
  onBatch?: (size: number) => void;

  constructor(
    private readonly sender: BatchSender,
    private readonly max: number,
  ) {}

  /** One transaction's call; resolves with the answer the single route would have given it. */
  call<T>(options: CallOptions): Promise<ParticipantReply<T>> {
    return new Promise<ParticipantReply<T>>((resolve, reject) => {
      this.queue.push({ options, resolve: resolve as Call<unknown>["resolve"], reject });
      if (this.queue.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.max);
    if (batch.length === 0) return;
    this.onBatch?.(batch.length);
    if (batch.length === 1) {
      const [only] = batch as [Call<unknown>];
      this.sender.one(only.options).then(only.resolve, only.reject);
      return;
    }
    // The batch's trace headers are its first call's; it waits as long as the most hurried allows.
    const timeouts = batch.map((c) => c.options.timeoutMs).filter((t): t is number => t !== undefined);
    const options: CallOptions = { headers: batch[0]!.options.headers, ...(timeouts.length ? { timeoutMs: Math.min(...timeouts) } : {}) };
    this.sender.many(batch.map((c) => c.options.body), options).then(
      (reply) => {
        // Rejected as a whole (too large together, say, or one the participant cannot read): each
        // goes alone, as it would have, so none is refused for its neighbours.
        if (reply.status >= 400 && reply.status < 500) {
          for (const c of batch) this.sender.one(c.options).then(c.resolve, c.reject);
          return;
        }
        const results = reply.body?.results;
        batch.forEach((c, i) => {
          const result = reply.status === 200 && Array.isArray(results) && results.length === batch.length ? results[i] : undefined;
          // A batch answered with an error, or not one result per call, tells no call anything.
          c.resolve(result ? { status: STATUS[result.status] ?? 503, body: result } : { status: reply.status >= 500 ? reply.status : 502, body: reply.body });
        });
      },
      (err: unknown) => batch.forEach((c) => c.reject(err)),
    );
  }
}
