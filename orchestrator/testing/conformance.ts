// The storage contract, as one suite every TxLog must pass: the in-memory fake the property tests
// rest on, and the Redis record (shards and cluster mode). Run it from a vitest file:
//   txLogConformance("my storage", async () => ({ log, newSubject, refusal: "paid", elapse, close }));
// Each case begins transactions on subjects of its own, so cases do not see each other's records.
import { describe, expect, it } from "vitest";
import { newTxId } from "../ids.js";
import type { BeginMode, TxLog, TxRecord } from "../log.js";
import type { TxProtocol } from "../protocol.js";

export interface ConformanceHarness<Payload, Refusal extends string> {
  log: TxLog<Payload, Refusal>;
  /** A new subject that may start a transaction. */
  newSubject(): Promise<string>;
  /** What a committed subject's start is refused with (committing makes the subject refuse another). */
  refusal: Refusal;
  /** Lets `ms` pass by the storage's clock. */
  elapse(ms: number): Promise<void>;
  close?(): Promise<void>;
}

const LEASE_MS = 300;
const A = { ms: LEASE_MS, owner: "driver-a" };
const B = { ms: LEASE_MS, owner: "driver-b" };

export function txLogConformance<Payload, Refusal extends string>(name: string, make: () => Promise<ConformanceHarness<Payload, Refusal>>, protocol: TxProtocol = "saga"): void {
  describe(`TxLog conformance: ${name}`, () => {
    let h: ConformanceHarness<Payload, Refusal>;
    const begin = (subject: string, mode: BeginMode, txId = "", lease = A) => h.log.begin(subject, mode, { txId, protocol }, lease);
    const started = async (subject: string, lease = A): Promise<TxRecord<Payload>> => {
      const result = await begin(subject, "start", newTxId(), lease);
      if (result.kind !== "drive") throw new Error(`start answered ${JSON.stringify(result)}`);
      return result.tx;
    };
    /** Every subject the sweep would find, over every group. */
    const swept = async (read: (group: number) => Promise<string[]>) => (await Promise.all(Array.from({ length: h.log.sweepGroups }, (_, g) => read(g)))).flat();

    it("sets up", async () => {
      h = await make();
      expect(h.log.sweepGroups).toBeGreaterThan(0);
    });

    it("begins a transaction once: a second start is busy while its lease lives, and the same start again drives it", async () => {
      const subject = await h.newSubject();
      expect(await h.log.check(subject)).toBeUndefined();
      const txId = newTxId();
      const first = await begin(subject, "start", txId);
      expect(first).toMatchObject({ kind: "drive", tx: { subject, id: txId, protocol, state: "trying", reason: "" } });
      expect(await begin(subject, "start", txId)).toMatchObject({ kind: "drive", tx: { id: txId } });
      expect(await begin(subject, "start", newTxId(), B)).toEqual({ kind: "busy", txId });
      expect(await begin(subject, "watch", "", B)).toEqual({ kind: "busy", txId });
      expect(await begin(subject, "resume", "", B)).toEqual({ kind: "busy", txId });
    });

    it("hands a transaction whose lease ran out to the next driver, and only that one renews it", async () => {
      const subject = await h.newSubject();
      const tx = await started(subject);
      expect(await h.log.renew(tx, A)).toBe(true);
      expect(await h.log.renew(tx, B)).toBe(false);
      await h.elapse(LEASE_MS * 2);
      expect(await swept((g) => h.log.expired(g, 1000))).toContain(subject);
      const taken = await begin(subject, "resume", "", B);
      expect(taken).toMatchObject({ kind: "drive", tx: { id: tx.id, state: "trying" } });
      expect(await swept((g) => h.log.expired(g, 1000))).not.toContain(subject);
      expect(await h.log.renew(tx, A)).toBe(false);
      expect(await h.log.renew(tx, B)).toBe(true);
      expect(await h.log.inspect(subject)).toMatchObject({ id: tx.id, owner: "driver-b", state: "trying", parked: false });
    });

    it("decides by compare-and-set: a commit wins over a later abort, and the subject refuses another start", async () => {
      const subject = await h.newSubject();
      const tx = await started(subject);
      expect(await h.log.commit(tx)).toEqual({ kind: "committed" });
      expect(await h.log.commit(tx)).toEqual({ kind: "committed" });
      expect(await h.log.abort(tx, "late")).toEqual({ kind: "committed" });
      expect(await begin(subject, "watch", "", B)).toEqual({ kind: "done", lastOutcome: "committed" });
      expect(await begin(subject, "start", newTxId(), B)).toEqual({ kind: "refused", reason: h.refusal });
      expect(await h.log.check(subject)).toBe(h.refusal);
      expect(await h.log.inspect(subject)).toMatchObject({ id: tx.id, state: "committed" });
    });

    it("keeps the first abort reason, refuses a later commit, and closes the abort once", async () => {
      const subject = await h.newSubject();
      const tx = await started(subject);
      expect(await h.log.abort(tx, "first")).toEqual({ kind: "aborting", reason: "first" });
      expect(await h.log.abort(tx, "second")).toEqual({ kind: "aborting", reason: "first" });
      expect(await h.log.commit(tx)).toEqual({ kind: "aborting", reason: "first" });
      // A decided abort may be driven by anyone: its cancels are idempotent and final.
      expect(await begin(subject, "resume", "", B)).toMatchObject({ kind: "drive", tx: { id: tx.id, state: "aborting", reason: "first" } });
      expect(await h.log.finishAbort(tx)).toEqual({ kind: "aborted", reason: "first" });
      expect(await h.log.finishAbort(tx)).toEqual({ kind: "aborted", reason: "first" });
      expect(await h.log.commit(tx)).toEqual({ kind: "aborted", reason: "first" });
      expect(await h.log.inspect(subject)).toBeUndefined();
      expect(await begin(subject, "watch", "", B)).toEqual({ kind: "done", lastOutcome: "first" });
      // The subject may start another; the old one's writes then find it long over.
      const next = await started(subject, B);
      expect(next.id).not.toBe(tx.id);
      expect(await h.log.abort(tx, "stale")).toEqual({ kind: "aborted", reason: "first" });
      const other = await h.newSubject();
      expect(await h.log.commit({ ...tx, subject: other })).toEqual({ kind: "unknown" });
    });

    it("settles committed transactions in one call, and leaves others alone", async () => {
      const [s1, s2, s3] = [await h.newSubject(), await h.newSubject(), await h.newSubject()];
      const [t1, t2, t3] = [await started(s1), await started(s2), await started(s3)];
      await h.log.commit(t1);
      await h.log.commit(t2);
      await h.log.settle([t1, t2, t3]);
      expect(await h.log.inspect(s1)).toBeUndefined();
      expect(await h.log.inspect(s2)).toBeUndefined();
      expect(await h.log.inspect(s3)).toMatchObject({ id: t3.id, state: "trying" });
      const open = await swept((g) => h.log.list(g, 10_000, "open"));
      expect(open).toContain(s3);
      expect(open).not.toContain(s1);
      expect(await begin(s1, "watch", "", B)).toEqual({ kind: "done", lastOutcome: "committed" });
    });

    it("shows the sweep every open record, and only those whose lease ran out as expired", async () => {
      const subject = await h.newSubject();
      await started(subject);
      expect(await swept((g) => h.log.list(g, 10_000, "open"))).toContain(subject);
      expect(await swept((g) => h.log.expired(g, 10_000))).not.toContain(subject);
      await h.elapse(LEASE_MS * 2);
      expect(await swept((g) => h.log.expired(g, 10_000))).toContain(subject);
    });

    it("counts failed drives, parks on request, and unparks when the record closes", async () => {
      const subject = await h.newSubject();
      const tx = await started(subject);
      // Still trying: nothing to record.
      expect(await h.log.failed(tx, "x=unknown", false, 60_000)).toBe("unknown");
      await h.log.abort(tx, "no");
      expect(await h.log.failed(tx, "x=unknown", false, 60_000)).toBe("open");
      expect(await h.log.inspect(subject)).toMatchObject({ failures: 1, lastError: "x=unknown", parked: false });
      expect(await h.log.failed(tx, "x=not_sent", true, 60_000)).toBe("parked");
      expect(await h.log.inspect(subject)).toMatchObject({ failures: 2, lastError: "x=not_sent", parked: true });
      expect(await swept((g) => h.log.list(g, 10_000, "parked"))).toContain(subject);
      // Requests are told it is parked; the sweep sees it again only after the park interval; an operator drives it now.
      expect(await begin(subject, "start", newTxId(), B)).toEqual({ kind: "parked", txId: tx.id });
      expect(await begin(subject, "watch", "", B)).toEqual({ kind: "parked", txId: tx.id });
      await h.elapse(LEASE_MS * 2);
      expect(await swept((g) => h.log.expired(g, 10_000))).not.toContain(subject);
      expect(await begin(subject, "retry", "", B)).toMatchObject({ kind: "drive", tx: { id: tx.id, state: "aborting" } });
      expect(await h.log.finishAbort(tx)).toEqual({ kind: "aborted", reason: "no" });
      expect(await swept((g) => h.log.list(g, 10_000, "parked"))).not.toContain(subject);
      expect(await begin(subject, "retry", "", B)).toEqual({ kind: "done", lastOutcome: "no" });
    });

    it("answers an operator's retry of a transaction that is not parked as busy", async () => {
      const subject = await h.newSubject();
      const tx = await started(subject);
      expect(await begin(subject, "retry", "", B)).toEqual({ kind: "busy", txId: tx.id });
    });

    it("tears down", async () => {
      await h.close?.();
    });
  });
}
