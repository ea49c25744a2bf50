"""Prints, as one YAML stream, what the cluster needs from Tekton's own config/ directory (read
from the Go module cache at run time, never copied into this repository): the namespace, the
CRDs with their conversion webhook removed (no webhook runs; only objects of the storage
version are created: v1 for Tekton v1.x, v1beta1 and v1alpha1 PipelineResources for v0.37), and the controller's ConfigMaps. RBAC, webhook and Deployments are left
out: the apiserver allows everything and the controller runs as a host process.

usage: tekton_config.py <module>/config [feature-flag=value ...]
"""

import pathlib
import sys

import yaml


def main() -> int:
    config = pathlib.Path(sys.argv[1])
    flags = dict(arg.split("=", 1) for arg in sys.argv[2:])
    files = [config / "100-namespace" / "100-namespace.yaml"]
    files += sorted((config / "300-crds").glob("*.yaml"))  # v1.x
    files += sorted(config.glob("300-*.yaml"))  # v0.37.x: CRDs at the top level
    files += sorted(config.glob("config-*.yaml"))
    docs = []
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if doc["kind"] == "CustomResourceDefinition":
                doc["spec"]["conversion"] = {"strategy": "None"}
            if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "feature-flags":
                doc.setdefault("data", {}).update(flags)
            docs.append(doc)
    if not docs:
        print(f"tekton_config.py: no manifests under {config}", file=sys.stderr)
        return 1
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
