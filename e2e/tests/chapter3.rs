//! Chapter 3 of the user's book notes, command by command, against a real
//! etcd, the apiserver binary and the kubectl binary.

use e2e::{manifest, Cluster};
use std::time::Duration;

fn pods_with_labels(c: &Cluster, selector: &str) -> Vec<String> {
    let mut names = c.kubectl(&["get", "po", "-l", selector, "-o", "name"]).ok().stdout;
    names = names.replace("pod/", "");
    let mut v: Vec<String> = names.lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn creating_and_listing_pods_from_the_books_manifests() {
    let c = Cluster::start();
    let out = c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual created");
    c.kubectl(&["create", "-f", &manifest("kubia-manual-with-labels.yaml")]).ok();

    let out = c.kubectl(&["get", "po"]).ok();
    let rows = out.rows();
    assert_eq!(rows[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(out.names(), ["kubia-manual", "kubia-manual-with-labels"]);
    assert_eq!(&rows[1][1..4], ["0/1", "Pending", "0"], "no node runs pods yet: {rows:?}");

    let out = c.kubectl(&["get", "po", "--show-labels"]).ok();
    assert!(out.stdout.lines().next().unwrap().ends_with("LABELS"), "{}", out.stdout);
    let with_labels = out.stdout.lines().find(|l| l.starts_with("kubia-manual-with-labels")).unwrap();
    assert!(with_labels.ends_with("creation_method=manual,env=prod"), "{with_labels}");
    let plain = out.stdout.lines().find(|l| l.starts_with("kubia-manual ")).unwrap();
    assert!(plain.ends_with("<none>"), "{plain}");

    let out = c.kubectl(&["get", "po", "-L", "creation_method,env"]).ok();
    let header = out.stdout.lines().next().unwrap();
    assert!(header.ends_with("CREATION_METHOD   ENV"), "{header}");
    let row = out.stdout.lines().find(|l| l.starts_with("kubia-manual-with-labels")).unwrap();
    assert!(row.ends_with("manual            prod"), "{row}");

    // Creating the same pod again fails and changes nothing.
    let out = c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).fails();
    assert!(
        out.stderr.contains("Error from server (AlreadyExists)")
            && out.stderr.contains(r#"pods "kubia-manual" already exists"#),
        "{}",
        out.stderr
    );
}

#[test]
fn labels_and_every_selector_operator() {
    let c = Cluster::start();
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    c.kubectl(&["create", "-f", &manifest("kubia-manual-with-labels.yaml")]).ok();

    let out = c.kubectl(&["label", "po", "kubia-manual", "creation_method=manual"]).ok();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual labeled");
    assert_eq!(pods_with_labels(&c, "creation_method=manual"), ["kubia-manual", "kubia-manual-with-labels"]);

    // Changing a value needs --overwrite, as kubectl says.
    let out = c.kubectl(&["label", "po", "kubia-manual-with-labels", "env=debug"]).fails();
    assert!(out.stderr.contains("'env' already has a value (prod), and --overwrite is false"), "{}", out.stderr);
    assert_eq!(pods_with_labels(&c, "env=prod"), ["kubia-manual-with-labels"], "a refused label changes nothing");
    c.kubectl(&["label", "po", "kubia-manual-with-labels", "env=debug", "--overwrite"]).ok();

    c.kubectl(&["label", "po", "kubia-manual", "app=a", "rel=b"]).ok();
    assert_eq!(pods_with_labels(&c, "env=debug"), ["kubia-manual-with-labels"]);
    assert_eq!(pods_with_labels(&c, "env==debug"), ["kubia-manual-with-labels"]);
    assert_eq!(pods_with_labels(&c, "env in (prod,debug)"), ["kubia-manual-with-labels"]);
    assert_eq!(pods_with_labels(&c, "env notin (prod,debug)"), ["kubia-manual"]);
    assert_eq!(pods_with_labels(&c, "!env"), ["kubia-manual"]);
    assert_eq!(pods_with_labels(&c, "env"), ["kubia-manual-with-labels"]);
    assert_eq!(pods_with_labels(&c, "env!=debug"), ["kubia-manual"]);
    assert_eq!(pods_with_labels(&c, "app=a,rel=b"), ["kubia-manual"]);
    assert_eq!(pods_with_labels(&c, "app=a,rel=c"), Vec::<String>::new());

    // Removing a label with `key-`.
    let out = c.kubectl(&["label", "po", "kubia-manual", "rel-"]).ok();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual unlabeled");
    assert_eq!(pods_with_labels(&c, "rel"), Vec::<String>::new());

    // A bad selector is an error, not an empty list.
    let out = c.kubectl(&["get", "po", "-l", "env in (prod"]).fails();
    assert!(!out.stderr.is_empty());

    // Field selectors are evaluated by the server too.
    let out = c.kubectl(&["get", "po", "--field-selector", "metadata.name=kubia-manual", "-o", "name"]).ok();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual");
    let out = c.kubectl(&["get", "po", "--field-selector", "status.phase=Running", "-o", "name"]).ok();
    assert_eq!(out.stdout.trim(), "");
}

#[test]
fn annotations_and_yaml_round_trip() {
    let c = Cluster::start();
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    let out = c.kubectl(&["annotate", "pod", "kubia-manual", "mycompany.com/someannotation=foo bar"]).ok();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual annotated");

    let yaml = c.kubectl(&["get", "po", "kubia-manual", "-o", "yaml"]).ok().stdout;
    let head: Vec<&str> = yaml.lines().take(5).collect();
    assert_eq!(
        head,
        ["apiVersion: v1", "kind: Pod", "metadata:", "  annotations:", "    mycompany.com/someannotation: foo bar"]
    );
    for expected in [
        "  namespace: default",
        "  uid: ",
        "  creationTimestamp: \"",
        "  resourceVersion: \"",
        "    imagePullPolicy: Always",
        "  restartPolicy: Always",
        "  dnsPolicy: ClusterFirst",
        "  schedulerName: default-scheduler",
        "  terminationGracePeriodSeconds: 30",
        "      protocol: TCP",
        "    terminationMessagePath: /dev/termination-log",
        "  phase: Pending",
        "  qosClass: BestEffort",
    ] {
        assert!(yaml.contains(expected), "-o yaml lacks {expected:?}:\n{yaml}");
    }

    // The printed YAML is valid input again: delete the pod and create it from it.
    let json = c.kubectl(&["get", "po", "kubia-manual", "-o", "json"]).ok().stdout;
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("-o json is JSON");
    assert_eq!(parsed["metadata"]["annotations"]["mycompany.com/someannotation"], "foo bar");
    c.kubectl(&["delete", "po", "kubia-manual"]).ok();
    let stripped: String = yaml.lines().filter(|l| !l.contains("resourceVersion")).map(|l| format!("{l}\n")).collect();
    c.kubectl_stdin(&["create", "-f", "-"], &stripped).ok();
    let again = c
        .kubectl(&[
            "get",
            "po",
            "kubia-manual",
            "-o",
            "jsonpath={.metadata.annotations.mycompany\\.com/someannotation}",
        ])
        .ok();
    assert_eq!(again.stdout, "foo bar");

    // Removing an annotation.
    c.kubectl(&["annotate", "pod", "kubia-manual", "mycompany.com/someannotation-"]).ok();
    let yaml = c.kubectl(&["get", "po", "kubia-manual", "-o", "yaml"]).ok().stdout;
    assert!(!yaml.contains("someannotation"), "{yaml}");
}

#[test]
fn namespaces_group_and_isolate_objects() {
    let c = Cluster::start();
    let out = c.kubectl(&["get", "ns"]).ok();
    for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(out.names().contains(&ns.to_string()), "{}", out.stdout);
    }
    assert_eq!(out.rows()[0], ["NAME", "STATUS", "AGE"]);

    let out = c.kubectl(&["create", "-f", &manifest("custom-namespace.yaml")]).ok();
    assert_eq!(out.stdout.trim(), "namespace/custom-namespace created");
    let out = c.kubectl(&["create", "namespace", "custom-namespace-command"]).ok();
    assert_eq!(out.stdout.trim(), "namespace/custom-namespace-command created");

    // A pod in a namespace that does not exist is refused.
    let out = c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml"), "-n", "no-such-ns"]).fails();
    assert!(out.stderr.contains(r#"namespaces "no-such-ns" not found"#), "{}", out.stderr);

    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml"), "-n", "custom-namespace"]).ok();
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    assert_eq!(c.kubectl(&["get", "pods", "--namespace", "custom-namespace"]).ok().names(), ["kubia-manual"]);

    let all = c.kubectl(&["get", "po", "-A"]).ok();
    assert_eq!(all.rows()[0][0], "NAMESPACE");
    assert_eq!(all.rows().len(), 3, "{}", all.stdout);

    // Deleting in one namespace leaves the other alone.
    c.kubectl(&["delete", "po", "kubia-manual"]).ok();
    assert_eq!(c.kubectl(&["get", "pods", "-n", "custom-namespace"]).ok().names(), ["kubia-manual"]);
    let out = c.kubectl(&["get", "pods"]).ok();
    assert!(out.stderr.contains("No resources found in default namespace."), "{}", out.stderr);

    // Deleting the namespace deletes what is in it, then the namespace.
    let out = c.kubectl(&["delete", "ns", "custom-namespace"]).ok();
    assert_eq!(out.stdout.trim(), r#"namespace "custom-namespace" deleted"#);
    assert!(c.eventually(Duration::from_secs(20), || c.kubectl(&["get", "ns", "custom-namespace"]).code == 1));
    let out = c.kubectl(&["get", "pods", "-n", "custom-namespace"]).ok();
    assert!(out.stderr.contains("No resources found in custom-namespace namespace."), "{}", out.stderr);

    let out = c.kubectl(&["delete", "ns", "default"]).fails();
    assert!(out.stderr.contains("Forbidden"), "{}", out.stderr);
}

#[test]
fn deleting_by_name_label_and_all() {
    let c = Cluster::start();
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    c.kubectl(&["create", "-f", &manifest("kubia-manual-with-labels.yaml")]).ok();
    c.kubectl(&["create", "-f", &manifest("kubia-gpu.yaml")]).ok();

    let out = c.kubectl(&["delete", "po", "-l", "creation_method=manual"]).ok();
    assert_eq!(out.stdout.trim(), r#"pod "kubia-manual-with-labels" deleted"#);
    assert_eq!(c.kubectl(&["get", "po", "-o", "name"]).ok().stdout, "pod/kubia-gpu\npod/kubia-manual\n");

    let out = c.kubectl(&["delete", "pods", "kubia-gpu"]).ok();
    assert_eq!(out.stdout.trim(), r#"pod "kubia-gpu" deleted"#);
    let out = c.kubectl(&["delete", "pods", "kubia-gpu"]).fails();
    assert!(out.stderr.contains(r#"Error from server (NotFound): pods "kubia-gpu" not found"#), "{}", out.stderr);

    c.kubectl(&["create", "-f", &manifest("kubia-gpu.yaml")]).ok();
    let out = c.kubectl(&["delete", "po", "kubia-gpu", "--grace-period=0", "--force"]).ok();
    assert_eq!(out.stdout.trim(), r#"pod "kubia-gpu" force deleted"#);
    assert!(out.stderr.starts_with("Warning: Immediate deletion does not wait"), "{}", out.stderr);

    c.kubectl(&["create", "-f", &manifest("kubia-gpu.yaml")]).ok();
    c.kubectl(&["delete", "po", "--all"]).ok();
    assert_eq!(c.kubectl(&["get", "po", "-o", "name"]).ok().stdout, "");

    // delete -f removes what a file created.
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    let out = c.kubectl(&["delete", "-f", &manifest("kubia-manual.yaml")]).ok();
    assert_eq!(out.stdout.trim(), r#"pod "kubia-manual" deleted"#);
}

#[test]
fn the_books_error_messages() {
    let c = Cluster::start();
    let out = c.kubectl(&["create", "-f", &manifest("kubia-replicaset-v1beta2.yaml")]).fails();
    assert!(out.stderr.contains(r#"no matches for kind "ReplicaSet" in version "apps/v1beta2""#), "{}", out.stderr);
    let out = c.kubectl(&["create", "-f", &manifest("kubia-rc-bad-selector.yaml")]).fails();
    assert!(
        out.stderr.contains("`selector` does not match template `labels`")
            && out.stderr.contains(r#"The ReplicationController "kubia-rc" is invalid"#),
        "{}",
        out.stderr
    );
    let typo =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: typo\nspec:\n  containers:\n  - name: a\n    imagee: busybox\n";
    let out = c.kubectl_stdin(&["create", "-f", "-"], typo).fails();
    assert!(out.stderr.contains(r#"unknown field "spec.containers[0].imagee""#), "{}", out.stderr);

    let broken = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: {}\n";
    let out = c.kubectl_stdin(&["create", "-f", "-"], broken).fails();
    assert!(out.stderr.contains("line"), "malformed YAML names the line: {}", out.stderr);

    let out = c.kubectl_stdin(&["create", "-f", "-"], "kind: Pod\nmetadata:\n  name: x\n").fails();
    assert!(out.stderr.contains("apiVersion not set"), "{}", out.stderr);

    let bad_name = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Kubia_Manual\nspec:\n  containers:\n  - name: a\n    image: busybox\n";
    let out = c.kubectl_stdin(&["create", "-f", "-"], bad_name).fails();
    assert!(out.stderr.contains("metadata.name: Invalid value: \"Kubia_Manual\""), "{}", out.stderr);

    // None of the refused objects was stored.
    assert_eq!(c.kubectl(&["get", "rc,rs,po", "-o", "name"]).ok().stdout, "");
}

#[test]
fn explain_discovery_and_cluster_info() {
    let c = Cluster::start();
    let out = c.kubectl(&["explain", "pods"]).ok();
    assert!(out.stdout.starts_with("KIND:     Pod\nVERSION:  v1\n"), "{}", out.stdout);
    assert!(out.stdout.contains("Pod is a collection of containers"), "{}", out.stdout);
    assert!(out.stdout.contains("   apiVersion\t<string>"), "{}", out.stdout);
    let out = c.kubectl(&["explain", "pods.spec.containers"]).ok();
    assert!(out.stdout.contains("RESOURCE: containers <[]Object>"), "{}", out.stdout);
    assert!(out.stdout.contains("   image\t<string>"), "{}", out.stdout);
    assert!(out.stdout.contains("   name\t<string> -required-"), "{}", out.stdout);
    c.kubectl(&["explain", "pods.spec.nosuchfield"]).fails();

    let out = c.kubectl(&["api-versions"]).ok();
    for gv in ["apps/v1", "batch/v1", "v1"] {
        assert!(out.stdout.lines().any(|l| l == gv), "{}", out.stdout);
    }
    let out = c.kubectl(&["api-resources"]).ok();
    assert_eq!(out.rows()[0], ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
    let pods = out.stdout.lines().find(|l| l.starts_with("pods ")).unwrap();
    assert!(pods.contains(" po ") && pods.contains(" v1 ") && pods.contains("true") && pods.ends_with("Pod"), "{pods}");

    let out = c.kubectl(&["cluster-info"]).ok();
    assert!(out.stdout.contains("is running at"), "{}", out.stdout);
    let out = c.kubectl(&["version"]).ok();
    assert!(out.stdout.contains("Server Version"), "{}", out.stdout);
}

#[test]
fn describe_edit_apply_replace_and_get_all() {
    let c = Cluster::start();
    c.kubectl(&["create", "-f", &manifest("kubia-manual-with-labels.yaml")]).ok();
    let out = c.kubectl(&["describe", "po", "kubia-manual-with-labels"]).ok();
    for line in ["Name:", "Namespace:", "Labels:", "Status:", "Containers:", "Image:"] {
        assert!(out.stdout.contains(line), "describe lacks {line}:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("luksa/kubia"));

    // edit: the editor changes the image; the pod is updated.
    let out = c
        .command(&["edit", "po", "kubia-manual-with-labels"])
        .env("EDITOR", "sed -i s#luksa/kubia#luksa/kubia-unhealthy#")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let image =
        c.kubectl(&["get", "po", "kubia-manual-with-labels", "-o", "jsonpath={.spec.containers[0].image}"]).ok();
    assert_eq!(image.stdout, "luksa/kubia-unhealthy");

    // apply: create, then configure from a changed manifest.
    let m = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: applied\n  labels:\n    a: \"1\"\n    b: \"2\"\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
    assert_eq!(c.kubectl_stdin(&["apply", "-f", "-"], m).ok().stdout.trim(), "pod/applied created");
    assert_eq!(c.kubectl_stdin(&["apply", "-f", "-"], m).ok().stdout.trim(), "pod/applied unchanged");
    c.kubectl(&["label", "po", "applied", "manual=yes"]).ok();
    let m2 = m.replace("    b: \"2\"\n", "");
    assert_eq!(c.kubectl_stdin(&["apply", "-f", "-"], &m2).ok().stdout.trim(), "pod/applied configured");
    let labels = c.kubectl(&["get", "po", "applied", "--show-labels", "--no-headers"]).ok().stdout;
    assert!(labels.trim_end().ends_with("a=1,manual=yes"), "apply removes b, keeps the hand-made label: {labels}");

    // replace with the printed object.
    let yaml = c.kubectl(&["get", "po", "applied", "-o", "yaml"]).ok().stdout;
    let changed = yaml.replace("image: busybox", "image: busybox:1.36");
    assert_eq!(c.kubectl_stdin(&["replace", "-f", "-"], &changed).ok().stdout.trim(), "pod/applied replaced");
    // The same stale YAML again is a conflict.
    let out = c.kubectl_stdin(&["replace", "-f", "-"], &changed).fails();
    assert!(out.stderr.contains("Conflict"), "{}", out.stderr);

    c.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    let out = c.kubectl(&["get", "all"]).ok();
    assert!(out.stdout.contains("pod/applied"), "{}", out.stdout);
    assert!(out.stdout.contains("replicationcontroller/kubia"), "{}", out.stdout);
    let out = c.kubectl(&["get", "rc"]).ok();
    assert_eq!(out.rows()[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    assert_eq!(&out.rows()[1][..2], ["kubia", "3"]);
}

#[test]
fn get_watch_prints_each_change_as_a_row() {
    use std::io::BufRead;
    let c = Cluster::start();
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    let mut watch = c.command(&["get", "po", "-w"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let header = lines.next().unwrap().unwrap();
    assert!(header.starts_with("NAME") && header.contains("STATUS"), "{header}");
    assert!(lines.next().unwrap().unwrap().starts_with("kubia-manual "));
    c.kubectl(&["create", "-f", &manifest("kubia-manual-with-labels.yaml")]).ok();
    assert!(lines.next().unwrap().unwrap().starts_with("kubia-manual-with-labels "));
    c.kubectl(&["label", "po", "kubia-manual", "watched=yes"]).ok();
    assert!(lines.next().unwrap().unwrap().starts_with("kubia-manual "), "a change is a new row");
    let _ = watch.kill();
    let _ = watch.wait();
}
