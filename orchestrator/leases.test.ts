import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaseKeeper } from "./leases.js";
import type { TxRecord } from "./log.js";

const tx = (id: string): TxRecord<null> => ({ subject: `s-${id}`, id, protocol: "saga", state: "trying", reason: "", payload: null });

describe("LeaseKeeper", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("renews a drive's lease before two thirds of it pass, stops once it is lost, and never after the drive ends", async () => {
    const renewed: string[] = [];
    let keep = true;
    const keeper = new LeaseKeeper<null>({ renew: async (t) => (renewed.push(t.id), keep) }, { ms: 3000, owner: "me" });
    const [long, short] = [tx("long"), tx("short")];
    keeper.hold(long);
    keeper.hold(short);
    keeper.release(short);
    await vi.advanceTimersByTimeAsync(999);
    expect(renewed).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    // Due at the first tick past a third of the lease, and again a third later.
    expect(renewed).toEqual(["long", "long"]);
    keep = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(renewed).toHaveLength(3);
    // Lost: not renewed again.
    await vi.advanceTimersByTimeAsync(5000);
    expect(renewed).toHaveLength(3);
    keeper.stop();
  });
});
