// A driver's leases: a transaction's lease is taken at begin for `ms`, and renewed while its drive
// goes on, so a drive that waits on a slow participant keeps it and the lease can stay short: a
// driver that dies loses its transactions within one lease, for another instance to finish.
import type { TxLog, TxRecord } from "./log.js";

export class LeaseKeeper<Payload> {
  /** The transactions being driven here, with when their lease was last taken or renewed. */
  private readonly held = new Map<TxRecord<Payload>, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Pick<TxLog<Payload, string>, "renew">,
    private readonly lease: { ms: number; owner: string },
  ) {}

  /** A drive of `tx` starts, its lease just taken. */
  hold(tx: TxRecord<Payload>): void {
    this.held.set(tx, Date.now());
    // One timer for every drive, ticking a third of a lease: a lease is renewed before two thirds of it pass.
    this.timer ??= setInterval(() => this.renewDue(), Math.max(1, Math.floor(this.lease.ms / 3))).unref();
  }

  /** The drive of `tx` ended. */
  release(tx: TxRecord<Payload>): void {
    this.held.delete(tx);
  }

  private renewDue(): void {
    const due = Date.now() - this.lease.ms / 3;
    for (const [tx, since] of this.held) {
      if (since > due) continue;
      this.held.set(tx, Date.now());
      // Lost (taken over, or ended): no more renewals. Unreachable: the next tick tries again.
      this.log.renew(tx, this.lease).then(
        (kept) => kept || this.held.delete(tx),
        () => {},
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
