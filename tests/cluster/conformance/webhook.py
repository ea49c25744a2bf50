"""What Tekton's admission and conversion webhook needs, read from Tekton's own config/ directory
(the Go module cache, never copied here), for the webhook run as a host process in the cluster's
namespace (run.sh):

  webhook.py manifests <module>/config   the webhook-certs Secret, the three webhook
      configurations, the tekton-pipelines-webhook Service without its pod selector (the apiserver
      reaches its ClusterIP, which run.sh sends to the host process with a DNAT rule: there is no
      kube-proxy), and config-observability-webhook: config-observability with metrics off (the
      controller, in the same network namespace, already has the metrics port)
  webhook.py conversions <module>/config  one line per CRD: name, then a merge patch restoring its
      conversion webhook (tekton_config.py strips them for the clusters that run no webhook)
"""

import json
import pathlib
import sys

import yaml


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def main():
    cmd, config = sys.argv[1], pathlib.Path(sys.argv[2])
    if cmd == "manifests":
        out = docs(config / "500-webhooks.yaml")
        for d in docs(config / "webhook.yaml"):
            if d["kind"] == "Service":
                d["spec"].pop("selector", None)
                out.append(d)
        for d in docs(config / "config-observability.yaml"):
            d["metadata"]["name"] = "config-observability-webhook"
            d["data"] = {"metrics-protocol": "none", "tracing-protocol": "none"}
            out.append(d)
        yaml.safe_dump_all(out, sys.stdout, sort_keys=False)
    elif cmd == "conversions":
        for path in sorted((config / "300-crds").glob("*.yaml")):
            for d in docs(path):
                conv = d.get("spec", {}).get("conversion")
                if d["kind"] == "CustomResourceDefinition" and conv and conv.get("strategy") == "Webhook":
                    print(d["metadata"]["name"] + "\t" + json.dumps({"spec": {"conversion": conv}}))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
