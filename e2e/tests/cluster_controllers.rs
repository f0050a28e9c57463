//! Chapter 4 of the book on the compose cluster: ReplicationControllers and
//! ReplicaSets keep their pods, adopt and release them by label, and the
//! garbage collector honours the cascade policy; Deployments roll out and
//! back, DaemonSets follow node labels, Jobs run their completions.

use e2e::{eventually, manifest, Live};
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(60);

/// Names of the pods with `selector` that are not being deleted.
fn live_pods(live: &Live, selector: &str) -> Vec<String> {
    let out = live.kubectl(&[
        "get",
        "pods",
        "-l",
        selector,
        "-o",
        "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}-{.metadata.name}{\"\\n\"}{end}",
    ]);
    let terminating: Vec<String> = out.stdout.lines().map(|l| l.trim_start_matches('-').to_string()).collect();
    let all = live.kubectl(&["get", "pods", "-l", selector, "-o", "name"]).stdout;
    all.lines().map(|l| l.trim_start_matches("pod/").to_string()).filter(|n| !terminating.contains(n)).collect()
}

#[test]
fn a_replication_controller_keeps_its_pods_and_follows_labels() {
    let live = Live::new("rc");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    assert!(eventually(SETTLE, || live.field("rc/kubia", "{.status.readyReplicas}") == "3"));
    let out = live.kubectl(&["get", "rc"]).ok();
    assert_eq!(out.rows()[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    assert_eq!(&out.rows()[1][..4], ["kubia", "3", "3", "3"]);
    let pods = live_pods(&live, "app=kubia");
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p.starts_with("kubia-") && p.len() == "kubia-".len() + 5), "{pods:?}");

    // A deleted pod is replaced.
    live.kubectl(&["delete", "pod", &pods[0]]).ok();
    assert!(eventually(SETTLE, || {
        let now = live_pods(&live, "app=kubia");
        now.len() == 3 && !now.contains(&pods[0])
    }));

    // A pod relabelled out of the selector is released and replaced.
    let pods = live_pods(&live, "app=kubia");
    live.kubectl(&["label", "pod", &pods[0], "env=dev"]).ok();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(live_pods(&live, "app=kubia").len(), 3, "an extra label changes nothing");
    live.kubectl(&["label", "pod", &pods[0], "app=kubia-dev", "--overwrite"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 3
        && !live_pods(&live, "app=kubia").contains(&pods[0])));
    assert_eq!(live.field(&format!("pod/{}", pods[0]), "{.metadata.ownerReferences}"), "", "released");

    // A matching pod made by hand is one too many: the RC deletes it.
    live.kubectl(&["create", "-f", &manifest("kubia-gpu.yaml")]).ok();
    live.kubectl(&["label", "pod", "kubia-gpu", "app=kubia"]).ok();
    assert!(eventually(SETTLE, || live.kubectl(&["get", "pod", "kubia-gpu"]).code == 1
        || live_pods(&live, "app=kubia").len() == 3
            && !live_pods(&live, "app=kubia").contains(&"kubia-gpu".to_string())));
    let events = live.kubectl(&["describe", "rc", "kubia"]).ok().stdout;
    assert!(events.contains("SuccessfulCreate") && events.contains("SuccessfulDelete"), "{events}");

    // Scaling.
    live.kubectl(&["scale", "rc", "kubia", "--replicas=5"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 5));
    live.kubectl(&["scale", "rc", "kubia", "--replicas=2"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 2));

    // Deleting with --cascade=orphan leaves the pods, now owned by nobody.
    live.kubectl(&["delete", "rc", "kubia", "--cascade=orphan"]).ok();
    assert!(eventually(SETTLE, || live.kubectl(&["get", "rc", "kubia"]).code == 1));
    std::thread::sleep(Duration::from_secs(2));
    let left = live_pods(&live, "app=kubia");
    assert_eq!(left.len(), 2);
    for p in &left {
        assert_eq!(live.field(&format!("pod/{p}"), "{.metadata.ownerReferences}"), "");
    }
    // A new RC with the same selector adopts them.
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 3));
    assert!(left.iter().all(|p| live_pods(&live, "app=kubia").contains(p)), "the orphans were adopted");
    // The default cascade deletes the pods with the RC.
    live.kubectl(&["delete", "rc", "kubia"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").is_empty()));
}

#[test]
fn a_replica_set_selects_with_expressions() {
    let live = Live::new("rs");
    let out = live.kubectl(&["create", "-f", &manifest("kubia-replicaset.yaml")]).ok();
    assert_eq!(out.stdout.trim(), "replicaset.apps/kubia created");
    assert!(eventually(SETTLE, || live.field("rs/kubia", "{.status.readyReplicas}") == "3"));
    let expr = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: expr\nspec:\n  replicas: 2\n  selector:\n    matchExpressions:\n    - key: app\n      operator: In\n      values: [expr]\n    - key: canary\n      operator: DoesNotExist\n  template:\n    metadata:\n      labels:\n        app: expr\n    spec:\n      containers:\n      - name: kubia\n        image: luksa/kubia\n";
    live.create(expr);
    assert!(eventually(SETTLE, || live_pods(&live, "app=expr").len() == 2));
    // A pod that gains the excluded label leaves the set, which replaces it.
    let first = live_pods(&live, "app=expr")[0].clone();
    live.kubectl(&["label", "pod", &first, "canary=yes"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=expr,!canary").len() == 2));
    let rows = live.kubectl(&["get", "rs"]).ok().rows();
    assert_eq!(rows[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
}

#[test]
fn deleting_a_namespace_deletes_what_is_in_it() {
    let live = Live::new("nsdel");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 3));
    let out = live.global(&["delete", "namespace", &live.namespace, "--wait=false"]).ok();
    assert!(out.stdout.contains("deleted"), "{}", out.stdout);
    let phase = live.global(&["get", "ns", &live.namespace, "-o", "jsonpath={.status.phase}"]).stdout;
    assert!(phase == "Terminating" || phase.is_empty(), "{phase}");
    assert!(eventually(Duration::from_secs(90), || live.global(&["get", "ns", &live.namespace]).code == 1));
}

#[test]
fn a_deployment_rolls_out_a_new_image_and_back() {
    let live = Live::new("deploy");
    let out = live.kubectl(&["create", "deployment", "kubia", "--image=luksa/kubia", "--replicas=3"]).ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia created");
    let out = live.kubectl(&["rollout", "status", "deployment/kubia", "--timeout=90s"]).ok();
    assert!(out.stdout.contains(r#"deployment "kubia" successfully rolled out"#), "{}", out.stdout);
    let rows = live.kubectl(&["get", "deploy"]).ok().rows();
    assert_eq!(rows[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(&rows[1][..4], ["kubia", "3/3", "3", "3"]);

    let out = live.kubectl(&["set", "image", "deployment/kubia", "kubia=luksa/kubia:latest"]).ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia image updated");
    live.kubectl(&["rollout", "status", "deployment/kubia", "--timeout=90s"]).ok();
    let images = || {
        live.kubectl(&["get", "pods", "-l", "app=kubia", "-o", "jsonpath={.items[*].spec.containers[0].image}"]).stdout
    };
    assert!(eventually(SETTLE, || {
        let i = images();
        i.split(' ').count() == 3 && i.split(' ').all(|x| x == "luksa/kubia:latest")
    }));
    let history = live.kubectl(&["rollout", "history", "deployment/kubia"]).ok().stdout;
    assert!(history.contains("REVISION") && history.lines().count() >= 3, "{history}");
    assert_eq!(live.kubectl(&["get", "rs", "-o", "name"]).ok().stdout.lines().count(), 2);

    live.kubectl(&["rollout", "undo", "deployment/kubia"]).ok();
    live.kubectl(&["rollout", "status", "deployment/kubia", "--timeout=90s"]).ok();
    assert!(eventually(SETTLE, || {
        let i = images();
        i.split(' ').count() == 3 && i.split(' ').all(|x| x == "luksa/kubia")
    }));
}

#[test]
fn a_daemon_set_follows_node_labels() {
    let live = Live::new("ds");
    let key = format!("ssd-{}", live.namespace);
    let ds = format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ssd-monitor\nspec:\n  selector:\n    matchLabels:\n      app: ssd-monitor\n  template:\n    metadata:\n      labels:\n        app: ssd-monitor\n    spec:\n      nodeSelector:\n        {key}: ssd\n      containers:\n      - name: main\n        image: luksa/ssd-monitor\n"
    );
    live.create(&ds);
    let rows = live.kubectl(&["get", "ds"]).ok().rows();
    assert_eq!(rows[0], ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"]);
    assert_eq!(&rows[1][..2], ["ssd-monitor", "0"]);
    let node = live.global(&["get", "nodes", "-o", "name"]).ok().stdout.lines().next().unwrap().to_string();
    live.global(&["label", &node, &format!("{key}=ssd")]).ok();
    let on_node = || live.kubectl(&["get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}"]).stdout;
    let placed = eventually(SETTLE, || format!("node/{}", on_node()) == node);
    let running = placed && eventually(SETTLE, || live.field("ds/ssd-monitor", "{.status.numberReady}") == "1");
    live.global(&["label", &node, &format!("{key}-")]).ok();
    assert!(running, "{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    assert!(eventually(SETTLE, || on_node().is_empty()), "removing the label removes the pod");
}

#[test]
fn a_job_runs_its_completions_in_parallel() {
    let live = Live::new("job");
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: batch-job\nspec:\n  completions: 3\n  parallelism: 2\n  template:\n    metadata:\n      labels:\n        app: batch-job\n    spec:\n      restartPolicy: OnFailure\n      containers:\n      - name: main\n        image: luksa/batch-job\n        env:\n        - name: SLEEP_SECONDS\n          value: \"2\"\n";
    live.create(job);
    let done = eventually(Duration::from_secs(120), || live.field("job/batch-job", "{.status.succeeded}") == "3");
    assert!(done, "{}", live.kubectl(&["describe", "job", "batch-job"]).stdout);
    let rows = live.kubectl(&["get", "jobs"]).ok().rows();
    assert_eq!(rows[0], ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert_eq!(&rows[1][..3], ["batch-job", "Complete", "3/3"]);
    let pod = live.kubectl(&["get", "pods", "-o", "name"]).ok().stdout.lines().next().unwrap().to_string();
    let logs = live.kubectl(&["logs", &pod]).ok().stdout;
    assert!(logs.contains("Batch job starting") && logs.contains("Finished succesfully"), "{logs}");
}

#[test]
fn a_cron_job_starts_jobs_on_schedule() {
    let live = Live::new("cron");
    // The book's manifest, in batch/v1beta1 as the book writes it, is accepted too.
    let out = live.kubectl(&["create", "-f", &manifest("cronjob.yaml")]).ok();
    assert_eq!(out.stdout.trim(), "cronjob.batch/batch-job-every-fifteen-minutes created");
    let every_minute = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: minutely\nspec:\n  schedule: \"* * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: main\n            image: luksa/batch-job\n            env:\n            - name: SLEEP_SECONDS\n              value: \"1\"\n";
    live.create(every_minute);
    // The book's CronJob fires at every quarter hour, so its Job may be there
    // too: look at the minutely ones only.
    let minutely_succeeded = || {
        live.json(&["jobs"])["items"].as_array().into_iter().flatten().any(|job| {
            job["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("minutely-"))
                && job["status"]["succeeded"].as_i64().is_some_and(|n| n >= 1)
        })
    };
    let ran = eventually(Duration::from_secs(150), minutely_succeeded);
    assert!(ran, "{}", live.kubectl(&["describe", "cronjob", "minutely"]).stdout);
    let rows = live.kubectl(&["get", "cronjobs"]).ok().rows();
    assert_eq!(rows[0], ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]);
    let minutely = rows.iter().find(|r| r[0] == "minutely").unwrap();
    assert_ne!(minutely[5], "<none>", "LAST SCHEDULE is set: {rows:?}");
    let jobs = live.kubectl(&["get", "jobs", "-o", "name"]).ok().stdout;
    assert!(jobs.lines().any(|j| j.starts_with("job.batch/minutely-")), "{jobs}");
}
