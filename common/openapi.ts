// Public routes are declared once: the zod schemas that validate a request's path also describe it
// in the service's OpenAPI document (@hono/zod-openapi), with its answer and its error shapes.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { IDEMPOTENCY_HEADER, RETRY_KEY_HEADER } from "./http.js";
import { checkIdempotencyKey, IDEMPOTENCY_KEY_PATTERN, parseIdempotencyKey, type IdempotencyKey } from "./idempotency.js";
import { parseOr400 } from "./params.js";
import { header, type ServiceApp, type ServiceEnv } from "./server.js";
import type { RequestContext } from "./tracing.js";

const errorBody = z.object({ error: z.string() }).openapi("Error", { example: { error: "order 42 not found" } });

const ERRORS = {
  400: "Malformed input (an id or number that does not parse), or a request that cannot be done",
  404: "The entity does not exist",
  409: "The entity is in a state that forbids the change",
  422: "The Idempotency-Key was used for another request (another route or other parameters); nothing was changed",
  424: "A service this request needs could not be reached; nothing was changed",
  429: "This instance runs its maximum number of checkouts; retry after Retry-After seconds",
  503: "Storage did not answer; the outcome is unknown",
} as const;
type ErrorStatus = keyof typeof ERRORS;

type Method = "get" | "post" | "delete";

export interface PublicRoute<P extends z.ZodObject> {
  method: Method | Method[];
  /** OpenAPI paths (`{param}`); several when a trailing parameter is optional. */
  path: string | string[];
  summary: string;
  params?: P;
  reply: z.ZodType;
  errors: ErrorStatus[];
  /** Takes an Idempotency-Key: the handler gets it, to guard its change with. */
  idempotent?: true;
  /** A batch_init route: served only while the service's BATCH_INIT is on. */
  loadsBenchmarkData?: true;
}

const idempotencyHeader = z.object({
  [IDEMPOTENCY_HEADER]: z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN)
    .optional()
    .openapi({
      description:
        "Optional, 1-255 visible ASCII characters. A repeat with the same key and the same request applies nothing and answers what the first answered; " +
        "the same key with another request is a 422. Remembered for at least 24 h.",
      example: "5f3c9a0e-7d1b-4c47-9a9e-0b8d2f1c6e21",
    }),
});

/**
 * Adds a public route for every method and path given, and documents it. Each path validates only
 * the parameters it holds, with the schema its document shows; the handler gets them parsed, and a
 * failure is the usual JSON 400. Validation is the synchronous parse every other input gets, not
 * zod-openapi's async validator middleware, which costs a hot path like /stock/find measurably.
 */
export function publicRoute<P extends z.ZodObject>(
  app: ServiceApp,
  route: PublicRoute<P>,
  handler: (c: Context<ServiceEnv>, params: z.output<P>, request: RequestContext, key: IdempotencyKey | undefined) => Promise<Response>,
): void {
  if (route.loadsBenchmarkData && !app.batchInit) return;
  const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });
  const errors: ErrorStatus[] = route.idempotent ? [...new Set<ErrorStatus>([...route.errors, 400, 422])].sort() : route.errors;
  const responses = {
    200: json(route.reply, "Done"),
    ...Object.fromEntries(errors.map((status) => [status, json(errorBody, ERRORS[status])])),
  };
  // The request as a key's fingerprint names it: one name for every path and method of the route.
  const routeName = [route.path].flat()[0]!;
  for (const method of [route.method].flat()) {
    for (const path of [route.path].flat()) {
      const inPath = Object.fromEntries([...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name, true as const]));
      // A path parameter is always present when its path matched: required, whatever the schema says.
      const params = route.params?.pick(inPath).required();
      const request = { ...(params ? { params } : {}), ...(route.idempotent ? { headers: idempotencyHeader } : {}) };
      app.openAPIRegistry.registerPath(createRoute({ method, path, summary: route.summary, request, responses }));
      const noParams = {} as z.output<P>;
      app.serve(method.toUpperCase(), path.replace(/\{(\w+)\}/g, ":$1"), (c, ctx) => {
        const parsed = params ? (parseOr400(params, c.req.param()) as z.output<P>) : noParams;
        // Every route that changes something checks a key it is sent; those that take one use it.
        const raw = method === "get" ? undefined : header(c, IDEMPOTENCY_HEADER);
        if (!route.idempotent) {
          checkIdempotencyKey(raw);
          return handler(c, parsed, ctx, undefined);
        }
        return handler(c, parsed, ctx, parseIdempotencyKey(raw, header(c, RETRY_KEY_HEADER), routeName, parsed));
      });
    }
  }
}
