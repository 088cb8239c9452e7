import { randomUUID } from "node:crypto";

/** Ids accepted anywhere in the API: safe in keys, URLs and logs, never containing `{` or `}`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A new entity or transaction id: 122 random bits, so instances never need to coordinate and a
 * collision is not a practical concern.
 */
export function newId(): string {
  return randomUUID();
}

/** The ids "0".."n-1" that the batch_init endpoints create, one at a time. */
export function* sequentialIds(n: number): Generator<string> {
  for (let i = 0; i < n; i++) yield String(i);
}
