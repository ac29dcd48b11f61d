// Validates Kubernetes objects (YAML documents on stdin, e.g. `kubectl kustomize DIR`) against the
// Kubernetes schemas shipped by kubernetes-models. Prints one line per object: "ok KIND NAME" or
// "invalid KIND NAME: why"; exits 1 when any object is invalid or of an unknown kind.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const require = createRequire(import.meta.url);
const yaml = require("js-yaml");

const docs = yaml.loadAll(readFileSync(0, "utf8")).filter(Boolean);
let failed = docs.length === 0;
for (const doc of docs) {
  const label = `${doc.kind} ${doc.metadata?.name}`;
  let Model;
  try {
    Model = (await import(`kubernetes-models/${doc.apiVersion}/${doc.kind}`))[doc.kind];
  } catch {
    console.log(`invalid ${label}: unknown apiVersion/kind ${doc.apiVersion}/${doc.kind}`);
    failed = true;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`ok ${label}`);
  } catch (e) {
    console.log(`invalid ${label}: ${e.message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
