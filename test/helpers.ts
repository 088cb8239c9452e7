// Shared by the integration tests: a real stack per test file and a small HTTP client for it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack, type Stack, type StackOptions } from "../local/stack.js";

export interface Reply<T = any> {
  status: number;
  body: T;
  contentType: string | null;
}

export async function call<T = any>(method: string, url: string): Promise<Reply<T>> {
  const res = await fetch(url, { method });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep the text: the assertion on the body will show it */
  }
  return { status: res.status, body: body as T, contentType: res.headers.get("content-type") };
}

/** A client bound to one base URL (the gateway or a single instance). */
export function client(base: string) {
  return {
    base,
    get: <T = any>(path: string) => call<T>("GET", base + path),
    post: <T = any>(path: string) => call<T>("POST", base + path),
    delete: <T = any>(path: string) => call<T>("DELETE", base + path),
  };
}
export type Client = ReturnType<typeof client>;

export interface TestStack extends Stack {
  api: Client;
  dataDir: string;
  teardown(): Promise<void>;
}

export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "shardshop-test-"));
  const stack = await startStack({ shards: 1, instances: 1, gatewayPort: 0, dataDir, output: "files", ...options });
  return {
    ...stack,
    api: client(stack.url),
    dataDir,
    async teardown() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Shop fixtures through the public API. */
export function shop(api: Client) {
  return {
    async item(price: number, stock: number): Promise<string> {
      const { body } = await api.post(`/stock/item/create/${price}`);
      if (stock > 0) await api.post(`/stock/add/${body.item_id}/${stock}`);
      return body.item_id;
    },
    async user(credit: number): Promise<string> {
      const { body } = await api.post("/payment/create_user");
      if (credit > 0) await api.post(`/payment/add_funds/${body.user_id}/${credit}`);
      return body.user_id;
    },
    async order(userId: string, items: Array<[string, number]>): Promise<string> {
      const { body } = await api.post(`/orders/create/${userId}`);
      for (const [item, qty] of items) await api.post(`/orders/addItem/${body.order_id}/${item}/${qty}`);
      return body.order_id;
    },
    async stock(itemId: string): Promise<number> {
      return (await api.get(`/stock/find/${itemId}`)).body.stock;
    },
    async credit(userId: string): Promise<number> {
      return (await api.get(`/payment/find_user/${userId}`)).body.credit;
    },
    async paid(orderId: string): Promise<boolean> {
      return (await api.get(`/orders/find/${orderId}`)).body.paid;
    },
  };
}
