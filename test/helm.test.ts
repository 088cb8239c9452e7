// The Helm chart, checked offline: lint, render for several shard counts and both values files,
// validate every rendered object against the Kubernetes API's schemas, and check the
// cross-references between the rendered objects.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Service } from "../common/services.js";
import { ADMIN_USER_RULES, DEFAULT_USER_LINE, HEALTH_USER_LINE, REPLICATION_USER_RULES, serviceUserRules } from "../deploy/redis-acl.js";
import { helm, kubernetesProblems, render, type Doc } from "./kube.js";

const chartVersion = () => /appVersion: "([^"]+)"/.exec(readFileSync("k8s/Chart.yaml", "utf8"))![1];

describe("helm chart", () => {
  it.each([[[]], [["gke/values.yaml"]]])("lints with %j", (values) => {
    expect(helm("lint", "k8s", ...values.flatMap((v) => ["-f", v]))).toMatch(/0 chart\(s\) failed/);
  });

  describe.each([
    { values: [], shards: 1, mode: "shards" },
    { values: [], shards: 3, mode: "shards" },
    { values: [], shards: 5, mode: "shards" },
    { values: ["gke/values.yaml"], shards: 3, mode: "shards" },
    { values: ["gke/values.yaml"], shards: 5, mode: "shards" },
    { values: [], shards: 3, mode: "cluster" },
    { values: ["gke/values.yaml"], shards: 5, mode: "cluster" },
  ])("rendered with $values, $shards shard(s) in $mode mode", ({ values, shards, mode }) => {
    const docs = render(values, [`redis.shards=${shards}`, `redis.mode=${mode}`]);
    // A cluster's masters have a replica each by default.
    const nodes = mode === "cluster" ? shards * 2 : shards;
    const of = (kind: string) => docs.filter((d) => d.kind === kind);
    const byName = (kind: string, name: string) => of(kind).find((d) => d.metadata.name === name);

    it("routes only the public prefixes to existing Services and ports, and re-sends only a checkout to another pod", () => {
      const ingress = of("Ingress");
      expect(ingress).toHaveLength(2);
      const paths = ingress.flatMap((i) => (i as any).spec.rules.flatMap((r: any) => r.http.paths));
      expect(paths.map((p: any) => p.path).sort()).toEqual(["/orders/", "/orders/checkout/", "/payment/", "/stock/"]);
      for (const p of paths) {
        const service = byName("Service", p.backend.service.name);
        expect(service, p.backend.service.name).toBeDefined();
        expect(service!.spec.ports.map((port: any) => port.name)).toContain(p.backend.service.port.name);
      }
      // Checkout is idempotent by order id; no other change carries a key ingress-nginx would set.
      const resends = (i: any) => i.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-next-upstream"] ?? "";
      const [checkout, rest] = [ingress.find((i) => i.metadata.name.endsWith("-checkout")), ingress.find((i) => !i.metadata.name.endsWith("-checkout"))];
      expect(resends(checkout)).toBe("error timeout non_idempotent");
      expect(resends(rest)).not.toContain("non_idempotent");
      expect((checkout as any).metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]).toBe("60");
    });

    it("gives every Deployment probes, resources, and REDIS_ADDRS naming exactly its StatefulSet's pods", () => {
      const deployments = of("Deployment");
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["shop-shardshop-order", "shop-shardshop-payment", "shop-shardshop-stock"]);
      for (const deployment of deployments) {
        const service = deployment.metadata.name.replace("shop-shardshop-", "");
        const container = deployment.spec.template.spec.containers[0];
        expect(container.readinessProbe.httpGet.path).toBe("/ready");
        expect(container.livenessProbe.httpGet.path).toBe("/health");
        expect(container.resources.requests.cpu).toBeDefined();
        expect(container.resources.limits.memory).toBeDefined();
        const env = Object.fromEntries(container.env.map((e: any) => [e.name, e]));

        const statefulSet = byName("StatefulSet", `shop-shardshop-redis-${service}`)!;
        expect(statefulSet.spec.replicas).toBe(nodes);
        const headless = byName("Service", statefulSet.spec.serviceName)!;
        expect(headless.spec.clusterIP).toBe("None");
        const pods = Array.from({ length: nodes }, (_, i) => `${statefulSet.metadata.name}-${i}.${headless.metadata.name}:6379`);
        expect(env.REDIS_ADDRS.value).toBe(pods.join(","));
        expect(env.REDIS_MODE?.value ?? "shards").toBe(mode);
        if (mode === "cluster") {
          expect(env.REDIS_MIN_REPLICAS_ACKED.value).toBe("1");
          // The Job that forms the cluster names the same pods, and asks for `shards` masters.
          const [job, ...others] = of("Job").filter((j) => j.metadata.name.startsWith(`${statefulSet.metadata.name}-join-`));
          expect(others).toEqual([]);
          const jobEnv = Object.fromEntries(job!.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
          expect(jobEnv.NODES.value).toBe(pods.join(" "));
          expect([jobEnv.MASTERS.value, jobEnv.REPLICAS.value]).toEqual([String(shards), "1"]);
          expect(jobEnv.REDISCLI_AUTH.valueFrom.secretKeyRef.key).toBe("redis-admin");
          // Each node gives clients its own stable DNS name, the one REDIS_ADDRS uses.
          const redisEnv = Object.fromEntries(statefulSet.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
          expect(redisEnv.ANNOUNCE_HOSTNAME.value).toBe(`$(POD_NAME).${headless.metadata.name}`);
          expect(redisEnv.POD_NAME.valueFrom.fieldRef.fieldPath).toBe("metadata.name");
          expect(headless.spec.ports.map((p: any) => p.port)).toEqual([6379, 16379]);
        } else {
          expect(of("Job")).toEqual([]);
        }

        // Its Redis user and password, and its internal key, come from a Secret that exists;
        // nothing secret is ever inlined.
        expect(env.REDIS_USER.value).toBe(service);
        const ref = env.REDIS_PASSWORD.valueFrom.secretKeyRef;
        expect(ref.key).toBe(`redis-${service}`);
        expect(env.INTERNAL_KEYS.valueFrom.secretKeyRef.key).toBe(`internal-${service}`);
        for (const e of container.env.filter((e: any) => /PASSWORD|KEYS?$/.test(e.name))) {
          expect(e.value, e.name).toBeUndefined();
          expect(byName("Secret", e.valueFrom.secretKeyRef.name)?.data?.[e.valueFrom.secretKeyRef.key], e.name).toBeDefined();
        }
        // ...the same Secret and key that the Redis it talks to makes its user from, with the
        // rules deploy/redis-acl.ts gives that user.
        const redisEnv = Object.fromEntries(statefulSet.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
        expect(redisEnv.SERVICE.value).toBe(service);
        expect(redisEnv.SERVICE_PASSWORD.valueFrom.secretKeyRef).toEqual(ref);
        expect(redisEnv.SERVICE_USER_RULES.value).toBe(serviceUserRules(service as Service));
        expect([redisEnv.DEFAULT_USER_LINE.value, redisEnv.HEALTH_USER_LINE.value, redisEnv.REPLICATION_USER_RULES.value, redisEnv.ADMIN_USER_RULES.value]).toEqual([
          DEFAULT_USER_LINE,
          HEALTH_USER_LINE,
          REPLICATION_USER_RULES,
          ADMIN_USER_RULES,
        ]);

        if (service === "order") {
          for (const name of ["STOCK_SERVICE_URL", "PAYMENT_SERVICE_URL"]) {
            const host = new URL(env[name].value).hostname;
            expect(byName("Service", host), name).toBeDefined();
          }
          // It signs with the keys the participants accept.
          expect([env.STOCK_INTERNAL_KEY.valueFrom.secretKeyRef.key, env.PAYMENT_INTERNAL_KEY.valueFrom.secretKeyRef.key]).toEqual(["internal-stock", "internal-payment"]);
        }
      }
    });

    it("runs Redis with AOF on a persistent volume, its users from the Secret, and maxmemory", () => {
      for (const statefulSet of of("StatefulSet")) {
        const container = statefulSet.spec.template.spec.containers[0];
        // The node's start script, from the chart's ConfigMap, which holds the chart's files as they are.
        expect(container.command).toEqual(["sh", "/scripts/redis-node.sh"]);
        const volume = statefulSet.spec.template.spec.volumes.find((v: any) => v.name === container.volumeMounts.find((m: any) => m.mountPath === "/scripts").name);
        const scripts = byName("ConfigMap", volume.configMap.name)! as any;
        expect(scripts.data["redis-node.sh"]).toBe(readFileSync("k8s/files/redis-node.sh", "utf8"));
        expect(scripts.data["redis-node.sh"]).toMatch(/--appendonly yes .*--aclfile "\$acl" --masteruser replica --masterauth "\$REPLICATION_PASSWORD".*--maxmemory-policy noeviction/s);
        if (mode === "cluster") expect(scripts.data["redis-cluster-join.sh"]).toBe(readFileSync("k8s/files/redis-cluster-join.sh", "utf8"));
        const env = Object.fromEntries(container.env.map((e: any) => [e.name, e]));
        expect(env.CLUSTER?.value ?? "no").toBe(mode === "cluster" ? "yes" : "no");
        expect(env.MAXMEMORY.value).toBe("384mb");
        expect(statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBeDefined();
        expect(container.readinessProbe).toBeDefined();
      }
    });

    it("meets the restricted Pod Security Standard in every pod, with no service-account token", () => {
      const pods = [...of("Deployment"), ...of("StatefulSet"), ...of("Job")].map((w) => [w.metadata.name, w.spec.template.spec] as const);
      expect(pods.length).toBeGreaterThanOrEqual(6);
      for (const [name, pod] of pods) {
        expect(pod.automountServiceAccountToken, name).toBe(false);
        expect(pod.securityContext.runAsNonRoot, name).toBe(true);
        expect(pod.securityContext.runAsUser, name).toBeGreaterThan(0);
        expect(pod.securityContext.seccompProfile, name).toEqual({ type: "RuntimeDefault" });
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          expect(c.securityContext, `${name}/${c.name}`).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
          expect(c.ports?.some((p: any) => p.hostPort) ?? false).toBe(false);
        }
        expect(pod.hostNetwork ?? false).toBe(false);
        for (const v of pod.volumes ?? []) expect(v.hostPath, `${name}: ${v.name}`).toBeUndefined();
      }
      // The image the chart was released with, never a moving tag.
      for (const d of of("Deployment")) expect(d.spec.template.spec.containers[0].image).toMatch(new RegExp(`:${chartVersion()!.replaceAll(".", "\\.")}$`));
    });

    it("denies every path between pods but the ones the shop uses", () => {
      const policies = of("NetworkPolicy");
      const deny = byName("NetworkPolicy", "shop-shardshop-default-deny")!;
      expect(deny.spec).toEqual({ podSelector: { matchLabels: { "app.kubernetes.io/instance": "shop" } }, policyTypes: ["Ingress", "Egress"] });
      const allowed = (from: string, to: string, port: number) => {
        const out = policies.some((p) => p.spec.podSelector.matchLabels["app.kubernetes.io/component"] === from && (p.spec.egress ?? []).some((e: any) =>
          e.ports.some((x: any) => x.port === port) && (e.to ?? []).some((t: any) => t.podSelector?.matchLabels?.["app.kubernetes.io/component"] === to)));
        const into = policies.some((p) => p.spec.podSelector.matchLabels["app.kubernetes.io/component"] === to && (p.spec.ingress ?? []).some((i: any) =>
          i.ports.some((x: any) => x.port === port) && (i.from ?? []).some((f: any) => f.podSelector?.matchLabels?.["app.kubernetes.io/component"] === from)));
        return out && into;
      };
      for (const s of ["order", "stock", "payment"]) {
        expect(allowed(s, `redis-${s}`, 6379), `${s} -> its Redis`).toBe(true);
        for (const other of ["order", "stock", "payment"].filter((o) => o !== s)) expect(allowed(s, `redis-${other}`, 6379), `${s} -> ${other}'s Redis`).toBe(false);
      }
      expect([allowed("order", "stock", 8080), allowed("order", "payment", 8080)]).toEqual([true, true]);
      expect([allowed("stock", "payment", 8080), allowed("payment", "stock", 8080), allowed("stock", "order", 8080)]).toEqual([false, false, false]);
      if (mode === "cluster") expect(allowed("redis-stock", "redis-stock", 16379)).toBe(true);
      expect(allowed("redis-stock", "redis-payment", 6379)).toBe(false);
    });

    it("selects each workload's own pods, and only those, with every Service, headless Service and PDB", () => {
      const workloads = [...of("Deployment"), ...of("StatefulSet")];
      const podLabels = (w: Doc) => w.spec.template.metadata.labels as Record<string, string>;
      const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
      for (const w of workloads) expect(matches(w.spec.selector.matchLabels, podLabels(w)), w.metadata.name).toBe(true);
      const selectors = [
        ...of("Service").map((s) => [`Service/${s.metadata.name}`, s.spec.selector] as const),
        ...of("PodDisruptionBudget").map((p) => [`PodDisruptionBudget/${p.metadata.name}`, p.spec.selector.matchLabels] as const),
      ];
      expect(selectors.length).toBe(of("Service").length + 3);
      for (const [name, selector] of selectors) {
        const selected = workloads.filter((w) => matches(selector, podLabels(w)));
        expect(selected.map((w) => w.metadata.name), name).toHaveLength(1);
      }
    });

    it("has a PodDisruptionBudget per service, and an HPA when autoscaling is on", () => {
      expect(of("PodDisruptionBudget")).toHaveLength(3);
      expect(of("HorizontalPodAutoscaler")).toHaveLength(values.length ? 3 : 0);
    });
  });

  it("annotates the service pods for scraping, and adds a ServiceMonitor and tracing only when asked", () => {
    const plain = render([], []);
    for (const deployment of plain.filter((d) => d.kind === "Deployment")) {
      const { annotations } = deployment.spec.template.metadata;
      const port = deployment.spec.template.spec.containers[0].ports[0].containerPort;
      expect(annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" });
      expect(deployment.spec.template.spec.containers[0].env.map((e: any) => e.name)).not.toContain("OTEL_EXPORTER_OTLP_ENDPOINT");
    }
    expect(plain.filter((d) => d.kind === "ServiceMonitor")).toHaveLength(0);

    const docs = render([], ["metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=kps", "tracing.otlpEndpoint=http://otel:4318"]);
    const [monitor] = docs.filter((d) => d.kind === "ServiceMonitor") as any[];
    expect(monitor.metadata.labels.release).toBe("kps");
    expect(monitor.spec.endpoints).toEqual([{ port: "http", path: "/metrics", interval: "15s" }]);
    // The selector picks exactly the three service Services, whose port it names.
    const selected = docs.filter(
      (d: any) =>
        d.kind === "Service" &&
        monitor.spec.selector.matchExpressions.every((e: any) => e.values.includes(d.metadata.labels?.[e.key])),
    );
    expect(selected.map((d) => d.metadata.name).sort()).toEqual(["shop-shardshop-order", "shop-shardshop-payment", "shop-shardshop-stock"]);
    for (const service of selected) expect(service.spec.ports.map((p: any) => p.name)).toContain("http");
    for (const deployment of docs.filter((d) => d.kind === "Deployment")) {
      const env = deployment.spec.template.spec.containers[0].env;
      expect(env.find((e: any) => e.name === "OTEL_EXPORTER_OTLP_ENDPOINT")?.value).toBe("http://otel:4318");
    }
  });
});

/** Every optional feature of the chart at once. */
const EVERYTHING_ON = [
  "metrics.serviceMonitor.enabled=true",
  "metrics.serviceMonitor.labels.release=kps",
  "tracing.otlpEndpoint=http://otel:4318",
  "autoscaling.enabled=true",
  "ingress.host=shop.example.com",
  "redis.storageClass=fast",
  "secrets.existingSecret=shop-secrets",
  "services.order.replicas=3",
];

describe("the Kubernetes API's schemas", () => {
  it.each([
    { values: [], shards: 1, sets: [] },
    { values: [], shards: 3, sets: [] },
    { values: [], shards: 5, sets: EVERYTHING_ON },
    { values: ["gke/values.yaml"], shards: 1, sets: EVERYTHING_ON },
    { values: ["gke/values.yaml"], shards: 3, sets: [] },
    { values: ["gke/values.yaml"], shards: 5, sets: [] },
    { values: [], shards: 3, sets: ["podDisruptionBudget.enabled=false", "ingress.enabled=false", "metrics.annotations=false"] },
    { values: [], shards: 3, sets: ["redis.mode=cluster"] },
    { values: ["gke/values.yaml"], shards: 4, sets: ["redis.mode=cluster", "redis.cluster.replicasPerMaster=2", ...EVERYTHING_ON] },
  ])("accept every object rendered with $values, $shards shard(s) and $sets", async ({ values, shards, sets }) => {
    const docs = render(values, [`redis.shards=${shards}`, ...sets]);
    expect(docs.length).toBeGreaterThan(10);
    expect(await kubernetesProblems(docs)).toEqual([]);
  });

  it("refuse a Redis mode the services do not have, and a cluster of fewer than 3 masters", () => {
    expect(() => render([], ["redis.mode=sentinel"])).toThrow(/redis.mode must be shards or cluster/);
    expect(() => render([], ["redis.mode=cluster", "redis.shards=2"])).toThrow(/at least 3 masters/);
  });

  it("refuse a misspelt field, a wrong type and a missing required field", async () => {
    const docs = render([], []);
    const deployment = structuredClone(docs.find((d) => d.kind === "Deployment")!);
    deployment.spec.template.spec.containers[0].imagePullPolciy = "Always";
    const service = structuredClone(docs.find((d) => d.kind === "Service")!);
    service.spec.ports[0].port = "eighty";
    const statefulSet = structuredClone(docs.find((d) => d.kind === "StatefulSet")!) as Doc;
    delete statefulSet.spec.selector;
    const problems = await kubernetesProblems([deployment, service, statefulSet]);
    expect(problems.some((p) => p.startsWith(`Deployment/${deployment.metadata.name}:`) && p.includes("imagePullPolciy"))).toBe(true);
    expect(problems.some((p) => p.startsWith(`Service/${service.metadata.name}:`) && /port/.test(p))).toBe(true);
    expect(problems.some((p) => p.startsWith(`StatefulSet/${statefulSet.metadata.name}:`) && p.includes("selector"))).toBe(true);
  });
});

describe("shell scripts", () => {
  it("pass bash -n and shellcheck", () => {
    for (const script of ["gke-scale/deploy.sh", "k8s/files/redis-node.sh", "k8s/files/redis-cluster-join.sh", "tools/stress-tests.sh", "tools/side-by-side/run.sh", "tools/side-by-side/cpu.sh"]) {
      execFileSync("bash", ["-n", script]);
      execFileSync("shellcheck", [script]);
    }
  });
});
