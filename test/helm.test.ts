// The Helm chart, checked offline: lint, render for several shard counts and both values files,
// validate every rendered object against the Kubernetes API's schemas, and check the
// cross-references between the rendered objects.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { helm, kubernetesProblems, render, type Doc } from "./kube.js";

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

    it("routes only the public prefixes to existing Services and ports", () => {
      const ingress = of("Ingress");
      expect(ingress).toHaveLength(1);
      const paths = ingress[0]!.spec.rules.flatMap((r: any) => r.http.paths);
      expect(paths.map((p: any) => p.path).sort()).toEqual(["/orders/", "/payment/", "/stock/"]);
      for (const p of paths) {
        const service = byName("Service", p.backend.service.name);
        expect(service, p.backend.service.name).toBeDefined();
        expect(service!.spec.ports.map((port: any) => port.name)).toContain(p.backend.service.port.name);
      }
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
          expect(jobEnv.REDISCLI_AUTH.valueFrom.secretKeyRef).toEqual(env.REDIS_PASSWORD.valueFrom.secretKeyRef);
          // Each node gives clients its own stable DNS name, the one REDIS_ADDRS uses.
          const redisEnv = Object.fromEntries(statefulSet.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
          expect(redisEnv.ANNOUNCE_HOSTNAME.value).toBe(`$(POD_NAME).${headless.metadata.name}`);
          expect(redisEnv.POD_NAME.valueFrom.fieldRef.fieldPath).toBe("metadata.name");
          expect(headless.spec.ports.map((p: any) => p.port)).toEqual([6379, 16379]);
        } else {
          expect(of("Job")).toEqual([]);
        }

        // The password comes from a Secret that exists; it is never inlined.
        const ref = env.REDIS_PASSWORD.valueFrom.secretKeyRef;
        expect(env.REDIS_PASSWORD.value).toBeUndefined();
        expect(byName("Secret", ref.name)?.data?.[ref.key]).toBeDefined();
        // ...the same Secret and key that the Redis it talks to reads its password from.
        const redisEnv = statefulSet.spec.template.spec.containers[0].env;
        const redisRef = redisEnv.find((e: any) => e.valueFrom?.secretKeyRef)?.valueFrom.secretKeyRef;
        expect(redisRef).toEqual(ref);

        if (service === "order") {
          for (const name of ["STOCK_SERVICE_URL", "PAYMENT_SERVICE_URL"]) {
            const host = new URL(env[name].value).hostname;
            expect(byName("Service", host), name).toBeDefined();
          }
        }
      }
    });

    it("runs Redis with AOF on a persistent volume and the password from the Secret", () => {
      for (const statefulSet of of("StatefulSet")) {
        const container = statefulSet.spec.template.spec.containers[0];
        if (mode === "cluster") {
          // The node's start script, from the chart's ConfigMap, which holds the chart's files as they are.
          expect(container.command).toEqual(["sh", "/scripts/redis-cluster-node.sh"]);
          const volume = statefulSet.spec.template.spec.volumes.find((v: any) => v.name === container.volumeMounts.find((m: any) => m.mountPath === "/scripts").name);
          const scripts = byName("ConfigMap", volume.configMap.name)!;
          expect((scripts as any).data["redis-cluster-node.sh"]).toBe(readFileSync("k8s/files/redis-cluster-node.sh", "utf8"));
          expect((scripts as any).data["redis-cluster-join.sh"]).toBe(readFileSync("k8s/files/redis-cluster-join.sh", "utf8"));
          expect((scripts as any).data["redis-cluster-node.sh"]).toMatch(/--appendonly yes .*--requirepass "\$REDIS_PASSWORD" --masterauth "\$REDIS_PASSWORD"/s);
        } else {
          expect(container.args).toEqual(expect.arrayContaining(["--appendonly", "yes"]));
        }
        expect(container.env[0].valueFrom.secretKeyRef).toBeDefined();
        expect(statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBeDefined();
        expect(container.readinessProbe).toBeDefined();
      }
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
  "redis.existingSecret=shop-redis",
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
    for (const script of ["gke-scale/deploy.sh", "k8s/files/redis-cluster-node.sh", "k8s/files/redis-cluster-join.sh", "tools/stress-tests.sh", "tools/side-by-side/run.sh", "tools/side-by-side/cpu.sh"]) {
      execFileSync("bash", ["-n", script]);
      execFileSync("shellcheck", [script]);
    }
  });
});
