// Transaction ids: UUIDv7, so every id carries its creation time, which bounds how long a
// participant accepts its try (the window) and how old a stuck transaction is.
import { randomUUID } from "node:crypto";

/**
 * A new transaction id: a UUIDv7 (RFC 9562: 48 bits of milliseconds, version 7, then random bits).
 * Made from Node's pooled randomUUID (a v4: the same variant and random layout) with the time in
 * front, a quarter of the time of the uuid package's v7, on the hot path.
 */
export function newTxId(atMs = Date.now()): string {
  const time = atMs.toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

/** Transaction ids as participants accept them: UUIDv7 only. */
export const TX_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A transaction id's creation time in ms since the epoch. */
export function txTime(tx: string): number {
  return parseInt(tx.slice(0, 8) + tx.slice(9, 13), 16);
}

/**
 * How long after its id's time a participant accepts a transaction's try (by its own clock). The
 * markers that hold nothing expire one more window after no try can be accepted any more, so a
 * participant holds about two windows' worth of them: at thousands of checkouts a second, minutes
 * of markers would fill a Redis's maxmemory (BENCHMARKS.md, "Marker state"). Half a minute covers
 * a driver's retries of its tries (the unknownOutcome policy's 10 s) and a takeover after its lease.
 */
export const DEFAULT_TX_WINDOW_MS = 30_000;
