"""The official Kubernetes Python client against a demo cluster: typed lists, a watch (and
410 for a too-old version), a followed log with a deadline, a dry-run patch, paging with
`limit`, and every credential form of the kubeconfig. Prints one JSON object of findings."""
import json
import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

kubeconfig, context, ns, deployment, other_contexts = (
    sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
out = {}

api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
v1 = client.CoreV1Api(api_client)
apps = client.AppsV1Api(api_client)

# Typed list: V1Pod objects with their statuses.
pods = v1.list_namespaced_pod(ns)
out["typed"] = all(isinstance(p, client.V1Pod) for p in pods.items)
out["pods"] = [p.metadata.name for p in pods.items]
out["phases"] = sorted({p.status.phase for p in pods.items})
out["list_rv"] = pods.metadata.resource_version
running = v1.list_namespaced_pod(ns, field_selector="status.phase=Running")
out["running"] = [p.metadata.name for p in running.items]

# Watch: the current pods as ADDED, then nothing until the timeout (nothing changes).
w = watch.Watch()
events = [e["type"] for e in w.stream(v1.list_namespaced_pod, ns, timeout_seconds=2)]
out["watch"] = events
# A watch from a version that fell out of history is 410 Gone.
try:
    for _ in watch.Watch().stream(v1.list_namespaced_pod, ns, resource_version="1",
                                  timeout_seconds=2):
        pass
    out["gone"] = None
except ApiException as e:
    out["gone"] = e.status

# A followed log, read for at most three seconds.
pod = running.items[0].metadata.name
resp = v1.read_namespaced_pod_log(pod, ns, follow=True, tail_lines=1,
                                  _preload_content=False, _request_timeout=(3, 3))
lines = 0
deadline = time.time() + 3
try:
    for chunk in resp.stream(64):
        lines += chunk.count(b"\n")
        if time.time() > deadline:
            break
except Exception:  # the read timeout ends the follow
    pass
finally:
    resp.release_conn()
out["followed_lines"] = lines

# A dry-run patch answers the result and changes nothing.
before = apps.read_namespaced_deployment(deployment, ns)
dry = apps.patch_namespaced_deployment(
    deployment, ns, {"spec": {"replicas": before.spec.replicas + 3}}, dry_run="All")
after = apps.read_namespaced_deployment(deployment, ns)
out["dry"] = [before.spec.replicas, dry.spec.replicas, after.spec.replicas]
out["dry_rv"] = [before.metadata.resource_version, after.metadata.resource_version]

# Paging with limit and continue.
names, token, pages = [], None, 0
while True:
    page = v1.list_pod_for_all_namespaces(limit=3, _continue=token)
    pages += 1
    names += [f"{p.metadata.namespace}/{p.metadata.name}" for p in page.items]
    token = page.metadata._continue
    if not token:
        break
full = v1.list_pod_for_all_namespaces()
out["paging"] = [pages, len(names), len(full.items),
                 names == [f"{p.metadata.namespace}/{p.metadata.name}" for p in full.items]]

# Every other context (token, client certificate, exec plugin) authenticates.
out["contexts"] = {}
for ctx in other_contexts:
    c = client.VersionApi(config.new_client_from_config(config_file=kubeconfig, context=ctx))
    out["contexts"][ctx] = c.get_code().git_version

print(json.dumps(out))
