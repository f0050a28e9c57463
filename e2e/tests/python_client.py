"""The official Kubernetes Python client against kubelab's apiserver.

Run by e2e/tests/python_client.rs as `python python_client.py CHECK SERVER NAMESPACE`
with the python of deploy/tools.sh's virtualenv: each CHECK is one thing a
user of the client does, in a namespace the Rust test made for it. A failed
check raises, so python exits non-zero with the traceback.
"""

import sys
import time

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

TIMEOUT = 60


def api_client(server):
    """A client for `server` over plain HTTP with no credentials, as kubelab serves."""
    configuration = client.Configuration()
    configuration.host = server
    return client.ApiClient(configuration)


def pod(name, labels=None, image="luksa/kubia"):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image=image)]),
    )


def wait_running(core, namespace, name):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        phase = core.read_namespaced_pod(name, namespace).status.phase
        if phase == "Running":
            return
        time.sleep(0.5)
    raise AssertionError(f"pod {name} is not Running after {TIMEOUT}s (phase {phase})")


def check_list(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, pod("web-1", {"app": "web"}))
    core.create_namespaced_pod(namespace, pod("db-1", {"app": "db"}))

    pods = core.list_namespaced_pod(namespace)
    assert sorted(p.metadata.name for p in pods.items) == ["db-1", "web-1"], pods
    assert pods.metadata.resource_version, "a list carries its resourceVersion"
    web = core.list_namespaced_pod(namespace, label_selector="app=web")
    assert [p.metadata.name for p in web.items] == ["web-1"], web
    named = core.list_namespaced_pod(namespace, field_selector="metadata.name=db-1")
    assert [p.metadata.name for p in named.items] == ["db-1"], named
    everywhere = core.list_pod_for_all_namespaces(label_selector="app=web")
    assert (namespace, "web-1") in [(p.metadata.namespace, p.metadata.name) for p in everywhere.items]

    nodes = core.list_node()
    ready = [
        n.metadata.name
        for n in nodes.items
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    ]
    assert len(ready) >= 3, f"three Ready nodes: {ready}"
    namespaces = [n.metadata.name for n in core.list_namespace().items]
    assert namespace in namespaces and "kube-system" in namespaces, namespaces

    groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
    assert "apps" in groups and "batch" in groups, groups
    deployments = client.AppsV1Api(api).list_namespaced_deployment(namespace)
    assert deployments.items == [], deployments


def lease(name):
    """A Lease in the test's namespace: no controller writes to it, so a watch sees only the test's changes."""
    return client.V1Lease(metadata=client.V1ObjectMeta(name=name), spec=client.V1LeaseSpec(holder_identity=name))


def events_until(leases, namespace, resource_version, wanted):
    """The watch events (type, lease name, resourceVersion) from
    `resource_version` on, until `wanted` of them came."""
    seen = []
    w = watch.Watch()
    for event in w.stream(
        leases.list_namespaced_lease,
        namespace,
        resource_version=resource_version,
        timeout_seconds=20,
        _request_timeout=30,
    ):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(seen) == wanted:
            w.stop()
    assert len(seen) == wanted, f"the watch ended after {seen}"
    return seen


def check_watch(api, namespace):
    leases = client.CoordinationV1Api(api)
    leases.create_namespaced_lease(namespace, lease("a"))
    start = leases.list_namespaced_lease(namespace).metadata.resource_version

    # What happens after the list is what a watch from its resourceVersion sees, in order.
    leases.create_namespaced_lease(namespace, lease("b"))
    leases.patch_namespaced_lease("a", namespace, {"metadata": {"labels": {"seen": "yes"}}})
    leases.delete_namespaced_lease("b", namespace)
    events = events_until(leases, namespace, start, 3)
    assert [(kind, name) for kind, name, _ in events] == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")], events

    # Resuming from the last event seen gives only what came after it.
    leases.create_namespaced_lease(namespace, lease("c"))
    resumed = events_until(leases, namespace, events[-1][2], 1)
    assert [(kind, name) for kind, name, _ in resumed] == [("ADDED", "c")], resumed


def check_write(api, namespace):
    core = client.CoreV1Api(api)
    created = core.create_namespaced_pod(namespace, pod("writer", {"app": "writer"}))
    assert created.metadata.uid and created.metadata.resource_version, created.metadata
    assert created.spec.containers[0].image_pull_policy == "Always", "defaults arrive in the answer"

    # A dict is sent as a strategic merge patch: the containers list merges by name.
    patched = core.patch_namespaced_pod(
        "writer",
        namespace,
        {"metadata": {"labels": {"tier": "web"}}, "spec": {"containers": [{"name": "main", "image": "luksa/kubia:latest"}]}},
    )
    assert patched.metadata.labels == {"app": "writer", "tier": "web"}, patched.metadata.labels
    assert [c.image for c in patched.spec.containers] == ["luksa/kubia:latest"], patched.spec.containers
    merged = core.patch_namespaced_pod(
        "writer",
        namespace,
        {"metadata": {"annotations": {"note": "merged"}}},
        _content_type="application/merge-patch+json",
    )
    assert merged.metadata.annotations.get("note") == "merged", merged.metadata.annotations
    json_patched = core.patch_namespaced_pod(
        "writer", namespace, [{"op": "remove", "path": "/metadata/labels/tier"}]
    )
    assert json_patched.metadata.labels == {"app": "writer"}, json_patched.metadata.labels

    # A stale resourceVersion is a conflict.
    stale = created
    stale.metadata.labels = {"app": "stale"}
    try:
        core.replace_namespaced_pod("writer", namespace, stale)
        raise AssertionError("a replace with a stale resourceVersion succeeded")
    except ApiException as e:
        assert e.status == 409, (e.status, e.body)

    try:
        core.create_namespaced_pod(namespace, pod("writer"))
        raise AssertionError("a second pod of the same name was created")
    except ApiException as e:
        assert e.status == 409 and e.reason == "Conflict", (e.status, e.reason, e.body)

    apps = client.AppsV1Api(api)
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="luksa/kubia")]),
            ),
        ),
    )
    apps.create_namespaced_deployment(namespace, deployment)
    scale = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 2}})
    assert scale.spec.replicas == 2, scale
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 2

    core.delete_namespaced_pod("writer", namespace, body=client.V1DeleteOptions(grace_period_seconds=0))
    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Foreground")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_pod("writer", namespace)
            time.sleep(0.5)
        except ApiException as e:
            assert e.status == 404 and e.reason == "Not Found", (e.status, e.reason)
            break
    else:
        raise AssertionError("the deleted pod is still there")


def check_exec(api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, pod("shell"))
    wait_running(core, namespace, "shell")

    out = stream(
        core.connect_get_namespaced_pod_exec,
        "shell",
        namespace,
        command=["sh", "-c", "echo hello from $HOSTNAME"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
    )
    assert out == "hello from shell\n", repr(out)

    # Interactive: stdin in, stdout and stderr apart, and the exit code.
    session = stream(
        core.connect_get_namespaced_pod_exec,
        "shell",
        namespace,
        command=["sh", "-c", "read line; echo got $line; echo oops >&2; exit 3"],
        stdout=True,
        stderr=True,
        stdin=True,
        tty=False,
        _preload_content=False,
    )
    session.write_stdin("abc\n")
    session.run_forever(timeout=30)
    assert session.read_stdout() == "got abc\n"
    assert session.read_stderr() == "oops\n"
    assert session.returncode == 3, session.returncode
    session.close()


CHECKS = {"list": check_list, "watch": check_watch, "write": check_write, "exec": check_exec}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(CHECKS)} SERVER NAMESPACE")
    check, server, namespace = sys.argv[1:]
    CHECKS[check](api_client(server), namespace)
    print(f"ok {check}")
