// Validation of path parameters and bodies shared by all services. Anything that does not parse
// becomes a 400 with a JSON error body before any state is touched.
import { describeIssue } from "@shardshop/orchestrator/http";
import { z } from "zod";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ID_PATTERN } from "./ids.js";

/** The largest value we store: beyond it JavaScript numbers and Lua doubles lose exactness. */
export const MAX_VALUE = Number.MAX_SAFE_INTEGER;

export const id = z.string().regex(ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 _ -");

/** A decimal integer in a path segment, `min`..2^53-1. No sign, exponent, fraction or spaces. */
export const decimal = (min: number, max = MAX_VALUE) =>
  z
    .string()
    .regex(/^[0-9]{1,20}$/, "must be a decimal integer")
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

export const amount = decimal(1);
export const quantity = decimal(1);
export const price = decimal(0);
/** What batch_init gives every item or user to start with. */
export const startingAmount = decimal(0);

/** Parses with `schema` or throws a 400 naming the first offending field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HTTPException(400, { message: describeIssue(parsed.error) });
}

/** Reads a JSON request body and validates it, or throws a 400. */
export async function jsonBodyOr400<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new HTTPException(400, { message: "body must be JSON" });
  }
  return parseOr400(schema, body);
}

/** The largest n a batch_init accepts: it bounds one request's work. */
export const MAX_BATCH = 1_000_000;
export const batchSize = decimal(1, MAX_BATCH);
