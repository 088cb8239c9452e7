import { describe, expect, it } from "vitest";
import { SERVICES, type Service } from "../common/services.js";
import { orderScripts } from "../order/store.js";
import { paymentScripts } from "../payment/store.js";
import { stockScripts } from "../stock/store.js";
import { aclFile, SCRIPT_COMMANDS, serviceUserLine } from "./redis-acl.js";

const scripts: Record<Service, () => Map<string, string>> = { order: orderScripts, stock: stockScripts, payment: paymentScripts };

describe("each service's Redis user", () => {
  it.each(SERVICES)("%s: is allowed exactly the commands its scripts call", (service) => {
    const called = new Set<string>();
    for (const lua of scripts[service]().values()) {
      for (const [, command] of lua.matchAll(/redis\.p?call\(\s*['"]([A-Za-z]+)['"]/g)) called.add(command!.toLowerCase());
      // A command named by a variable would escape the list above.
      expect(lua).not.toMatch(/redis\.p?call\(\s*[^'"\s]/);
    }
    expect([...SCRIPT_COMMANDS[service]].sort()).toEqual([...called].sort());
  });

  it("never gets what would let it list, flush, reconfigure or stop its node", () => {
    for (const service of SERVICES) {
      const line = serviceUserLine(service, "0".repeat(64));
      expect(line).toMatch(/ -@all /);
      for (const forbidden of ["flushall", "flushdb", "config", "keys", "scan", "debug", "shutdown", "module", "acl", "script", "save", "bgrewriteaof", "replicaof"]) {
        expect(line.split(" ")).not.toContain(`+${forbidden}`);
      }
      expect(line).not.toMatch(/\+@|&\*|allchannels/);
    }
  });

  it("keeps no password in the clear in the ACL file", () => {
    const file = aclFile("stock", { service: "stock-password", replication: "replication-password", admin: "admin-password", metrics: "metrics-password" });
    expect(file).not.toMatch(/password/);
    expect(file.split("\n").filter(Boolean)).toHaveLength(6);
  });
});
