// The engine's storage on Redis: the transaction record lives in the subject's own hash on the
// subject's partition, so starting a transaction can check the subject and write the record in one
// script. The subject supplies that begin script (it ends in `tx_begin_subject` from
// lua/includes/txRecord.lua); every other write is one of the engine's scripts (lua/).
import { groupBy } from "../group.js";
import type { BeginMode, BeginResult, LogStatus, TxLog, TxRecord, TxSnapshot } from "../log.js";
import type { TxProtocol } from "../protocol.js";
import type { RedisHost, ScriptReply } from "./host.js";

export interface RecordLayout<Payload, Refusal extends string> {
  /** The subject's hash, which holds the record. */
  recordKey(subject: string): string;
  /**
   * The index of open records (a sorted set by lease end), one per partition: its name in shards
   * mode, and in cluster mode the base of each slot's (see RedisHost.partitionKey).
   */
  pendingKey: string;
  /** The index of parked records (by when), one per partition as `pendingKey`. */
  parkedKey: string;
  /**
   * The subject's begin script: KEYS = [record, pending, ...extraKeys(subject)], ARGV = [mode,
   * new tx id, protocol, lease ms, owner, subject, ...extraArgs]; in 'check' mode it answers
   * {refusal} or {'ok'} and writes nothing.
   */
  beginScript: string;
  extraKeys(subject: string): string[];
  /** The subject's own arguments to its begin script (e.g. limits it checks). */
  extraArgs: ReadonlyArray<string | number>;
  /** The subject's snapshot from the rest of a 'drive' reply. */
  payload(fields: string[]): Payload;
  refusals: readonly Refusal[];
  /** Field, value pairs the commit sets on the subject, in the same write (e.g. an order's paid). */
  commitFields: string[];
}

export class RedisTxLog<Payload, Refusal extends string> implements TxLog<Payload, Refusal> {
  constructor(
    private readonly host: RedisHost,
    private readonly layout: RecordLayout<Payload, Refusal>,
  ) {}

  get sweepGroups(): number {
    return this.host.sweepGroups;
  }

  retryable(err: unknown): boolean {
    return this.host.isStorageFailure(err);
  }

  private runFor(subject: string, script: string, keys: string[], args: Array<string | number>): Promise<ScriptReply> {
    return this.host.run(this.host.partitionOf(subject), script, keys, args);
  }

  /** The index the subject's open record is in: in the subject's partition, so begin and close stay atomic. */
  private pendingKeyOf(subject: string): string {
    return this.host.partitionKey(this.layout.pendingKey, this.host.partitionOf(subject));
  }

  /** The record and both indexes it may be in (open, parked): the keys of a close or a failure. */
  private recordAndIndexes(subject: string): string[] {
    const partition = this.host.partitionOf(subject);
    return [this.layout.recordKey(subject), this.host.partitionKey(this.layout.pendingKey, partition), this.host.partitionKey(this.layout.parkedKey, partition)];
  }

  private beginKeys(subject: string): string[] {
    return [this.layout.recordKey(subject), this.pendingKeyOf(subject), ...this.layout.extraKeys(subject)];
  }

  async begin(subject: string, mode: BeginMode, start: { txId: string; protocol: TxProtocol }, lease: { ms: number; owner: string }): Promise<BeginResult<Payload, Refusal>> {
    const reply = (await this.runFor(subject, this.layout.beginScript, this.beginKeys(subject), [
      mode,
      start.txId,
      start.protocol,
      lease.ms,
      lease.owner,
      subject,
      ...this.layout.extraArgs,
    ])) as string[];
    switch (reply[0]) {
      case "drive": {
        const [, id, protocol, state, reason, ...payload] = reply;
        return {
          kind: "drive",
          tx: { subject, id: id!, protocol: protocol as TxProtocol, state: state as TxRecord<Payload>["state"], reason: reason!, payload: this.layout.payload(payload) },
        };
      }
      case "busy":
        return { kind: "busy", txId: reply[1]! };
      case "parked":
        return { kind: "parked", txId: reply[1]! };
      case "done":
        return { kind: "done", lastOutcome: reply[1]! };
      case "refused":
        return { kind: "refused", reason: this.refusal(reply[1]!) };
      default:
        throw new Error(`${this.layout.beginScript} replied ${JSON.stringify(reply)}`);
    }
  }

  async check(subject: string): Promise<Refusal | undefined> {
    const [word] = (await this.runFor(subject, this.layout.beginScript, this.beginKeys(subject), ["check", "", "", 0, "", subject, ...this.layout.extraArgs])) as string[];
    return word === "ok" ? undefined : this.refusal(word!);
  }

  private refusal(word: string): Refusal {
    if (!(this.layout.refusals as readonly string[]).includes(word)) throw new Error(`${this.layout.beginScript} refused with ${word}, which is not in its contract`);
    return word as Refusal;
  }

  async commit(tx: TxRecord<Payload>): Promise<LogStatus> {
    return toStatus(await this.runFor(tx.subject, "commitTx", [this.layout.recordKey(tx.subject)], [tx.id, ...this.layout.commitFields]));
  }

  async abort(tx: TxRecord<Payload>, reason: string): Promise<LogStatus> {
    return toStatus(await this.runFor(tx.subject, "abortTx", [this.layout.recordKey(tx.subject)], [tx.id, reason]));
  }

  async finishAbort(tx: TxRecord<Payload>): Promise<LogStatus> {
    return toStatus(
      await this.runFor(tx.subject, "finishAbortTx", this.recordAndIndexes(tx.subject), [tx.id, tx.subject]),
    );
  }

  async settle(txs: Array<TxRecord<Payload>>): Promise<void> {
    await Promise.all(
      [...groupBy(txs, (tx) => this.host.partitionOf(tx.subject))].map(([partition, group]) =>
        this.host.run(
          partition,
          "settleTx",
          [
            ...group.map((tx) => this.layout.recordKey(tx.subject)),
            this.host.partitionKey(this.layout.pendingKey, partition),
            this.host.partitionKey(this.layout.parkedKey, partition),
          ],
          [...group.map((tx) => tx.id), ...group.map((tx) => tx.subject)],
        ),
      ),
    );
  }

  async failed(tx: TxRecord<Payload>, outcomes: string, park: boolean, retryMs: number): Promise<"open" | "parked" | "unknown"> {
    const [word] = (await this.runFor(tx.subject, "failedTx", this.recordAndIndexes(tx.subject), [tx.id, outcomes, park ? "1" : "0", retryMs, tx.subject])) as [string];
    return word === "open" || word === "parked" ? word : "unknown";
  }

  async renew(tx: TxRecord<Payload>, lease: { ms: number; owner: string }): Promise<boolean> {
    const keys = [this.layout.recordKey(tx.subject), this.pendingKeyOf(tx.subject)];
    return (await this.runFor(tx.subject, "renewTx", keys, [tx.id, lease.owner, lease.ms, tx.subject])) === 1;
  }

  async list(group: number, limit: number, which: "open" | "parked"): Promise<string[]> {
    return (await this.pending(group, limit, which === "open" ? this.layout.pendingKey : this.layout.parkedKey, "all")).subjects.slice(0, limit);
  }

  async inspect(subject: string): Promise<TxSnapshot | undefined> {
    const fields = ["tx", "tx_protocol", "tx_state", "tx_reason", "tx_lease", "tx_owner", "tx_parked", "tx_failures", "tx_error"] as const;
    const [id, protocol, state, reason, lease, owner, parked, failures, lastError] = await this.host.hmget(this.layout.recordKey(subject), [...fields]);
    if (!id) return undefined;
    return {
      subject,
      id,
      protocol: protocol as TxProtocol,
      state: state as TxSnapshot["state"],
      reason: reason ?? "",
      leaseEnd: Number(lease ?? 0),
      owner: owner ?? "",
      parked: parked === "1",
      failures: Number(failures ?? 0),
      lastError: lastError ?? "",
    };
  }

  async expired(group: number, limit: number): Promise<string[]> {
    return (await this.pending(group, limit, this.layout.pendingKey, "due")).subjects.slice(0, limit);
  }

  /** Open records in one sweep group, how many of them wait for recovery (lease run out), and how many are parked. */
  async backlog(group: number): Promise<{ open: number; expired: number; parked: number }> {
    const [{ count: open, due: expired }, { count: parked }] = await Promise.all([
      this.pending(group, 0, this.layout.pendingKey, "due"),
      this.pending(group, 0, this.layout.parkedKey, "due"),
    ]);
    return { open, expired, parked };
  }

  /**
   * Reads one of a sweep group's indexes (`base`: open or parked records) with one script per node
   * that serves them: each node compares scores with its own clock, which wrote them. A node whose
   * slots moved while it was asked (a cluster resharding) is read again one slot at a time, so the
   * sweep still sees every record.
   */
  private async pending(group: number, limit: number, base: string, which: "due" | "all"): Promise<{ count: number; due: number; subjects: string[] }> {
    const total = { count: 0, due: 0, subjects: [] as string[] };
    const read = async (partitions: number[]) => {
      const [first, ...rest] = partitions.map((p) => this.host.partitionKey(base, p));
      const [count, due, ...subjects] = (await this.host.run(partitions[0]!, "pendingTransactions", [first!], [limit, which, ...rest])) as [number, number, ...string[]];
      total.count += count;
      total.due += due;
      total.subjects.push(...subjects);
    };
    await Promise.all(
      this.host.partitionsByNode(group).map((partitions) =>
        read(partitions).catch(async (err: unknown) => {
          if (partitions.length === 1 || this.host.isStorageFailure(err)) throw err;
          for (const p of partitions) await read([p]);
        }),
      ),
    );
    return total;
  }
}

function toStatus(reply: ScriptReply): LogStatus {
  const [kind, reason] = reply as [string, string?];
  switch (kind) {
    case "committed":
      return { kind };
    case "aborting":
    case "aborted":
      return { kind, reason: reason ?? "" };
    default:
      return { kind: "unknown" };
  }
}
