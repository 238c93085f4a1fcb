// Validates every document of a rendered manifest stream against the Kubernetes
// schemas (kubernetes-models: the API's OpenAPI schemas compiled to validators).
// CRDs it has no schema for (ServiceMonitor, PrometheusRule) get a structural check.
// usage: node validate.mjs FILE.yaml...  (copied next to the node_modules it imports)
import fs from "fs";
import yaml from "js-yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Service } from "kubernetes-models/v1/Service";
import { Secret } from "kubernetes-models/v1/Secret";

const kinds = {
  "apps/v1/Deployment": () => Deployment,
  "apps/v1/DaemonSet": () => DaemonSet,
  "v1/Service": () => Service,
  "v1/Secret": () => Secret,
};

let failed = 0, checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    if (!doc) continue;
    const key = `${doc.apiVersion}/${doc.kind}`;
    try {
      if (key === "monitoring.coreos.com/v1/ServiceMonitor") {
        if (!doc.metadata?.name || !doc.spec?.selector?.matchLabels ||
            !Array.isArray(doc.spec?.endpoints) || doc.spec.endpoints.some((e) => !e.port)) {
          throw new Error("ServiceMonitor needs metadata.name, spec.selector.matchLabels, spec.endpoints[].port");
        }
      } else if (key === "monitoring.coreos.com/v1/PrometheusRule") {
        const groups = doc.spec?.groups;
        if (!doc.metadata?.name || !Array.isArray(groups) || !groups.length ||
            groups.some((g) => !g.name || !Array.isArray(g.rules) ||
                               g.rules.some((r) => !(r.alert || r.record) || !r.expr))) {
          throw new Error("PrometheusRule needs metadata.name and spec.groups[].rules[] with alert/record and expr");
        }
      } else if (kinds[key]) {
        new (kinds[key]())(doc).validate();
      } else {
        throw new Error(`no schema for ${key}`);
      }
      checked++;
      console.log(`ok   ${file}: ${key} ${doc.metadata.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${file}: ${key} ${doc.metadata && doc.metadata.name}: ${e.message}`);
    }
  }
}
console.log(`${checked} valid, ${failed} invalid`);
process.exit(failed || !checked ? 1 : 0);
