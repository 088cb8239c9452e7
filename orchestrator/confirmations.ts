// The confirm phase, batched. Once a transaction committed nobody waits for its confirms (the
// decision is the commit point), so they are gathered for a few milliseconds and sent as one call
// per participant, then the records are closed as one script per shard. A batch that does not get
// through is not retried here: its records stay open, and when their lease runs out the recovery
// sweep confirms them again (confirms are idempotent).
import type { BackgroundContext } from "./context.js";
import { groupBy } from "./group.js";
import type { TxLog, TxRecord } from "./log.js";
import { MAX_CONFIRM_BATCH } from "./participant.js";
import type { RetryPolicy } from "./retry.js";
import { phaseBody, type ParticipantDefinition, type Transport } from "./transport.js";

export class Confirmations<Payload> {
  private queued: Array<TxRecord<Payload>> = [];
  private timer: NodeJS.Timeout | undefined;
  /** Batches sent and not yet acknowledged, so a graceful stop can wait for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly participants: ReadonlyArray<ParticipantDefinition<Payload>>,
    private readonly log: TxLog<Payload, string>,
    private readonly transport: Transport,
    private readonly policy: RetryPolicy,
    private readonly delayMs: number,
    private readonly background: BackgroundContext,
  ) {}

  /** Queues a committed transaction's confirms. */
  later(tx: TxRecord<Payload>): void {
    this.queued.push(tx);
    if (this.queued.length >= MAX_CONFIRM_BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /**
   * Confirms and closes transactions now; what does not get through is left for recovery. Answers
   * undefined once they are closed, else what the participants' confirms came to.
   */
  async now(txs: Array<TxRecord<Payload>>): Promise<string | undefined> {
    const ctx = this.background("confirm transactions");
    try {
      const byProtocol = groupBy(txs, (tx) => tx.protocol);
      const sent = await Promise.all(
        [...byProtocol].flatMap(([protocol, group]) =>
          this.participants.map(async ([name, part]) => [name, await this.transport.confirm(name, protocol, group.map((tx) => phaseBody(tx, part)), this.policy, ctx)] as const),
        ),
      );
      if (!sent.every(([, confirmed]) => confirmed)) return sent.map(([name, confirmed]) => `${name}=${confirmed ? "done" : "not confirmed"}`).join("; ");
      await this.log.settle(txs);
      return undefined;
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message, transactions: txs.length }, "confirms not closed; left for recovery");
      return `not closed: ${(err as Error).message}`;
    } finally {
      ctx.span.end();
    }
  }

  /** Sends everything queued; resolves once every batch sent so far was answered. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all(this.inFlight);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queued.splice(0, MAX_CONFIRM_BATCH);
    if (this.queued.length) this.timer = setTimeout(() => this.flush(), 0);
    if (!batch.length) return;
    const sent = this.now(batch);
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }
}
