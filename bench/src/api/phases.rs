//! The `api` scenario's measurements. [`Ctx`] holds one connection per client
//! to each side (an `etcd_client` connection for the raw baselines, a
//! `client::Client` for the apiserver), opened once so no phase pays for
//! connecting, and names everything the run writes after a random run id, so
//! runs against a shared cluster never collide.

use super::churn::{self, Churned, Schedule, Verb};
use super::http::{self, Http};
use super::Plan;
use crate::cluster::Target;
use crate::load::{drive, Budget, Outcome};
use crate::pod;
use crate::watch::{self, Delivery, StampStream};
use api::ResourceInfo;
use client::{Client, DeleteParams, ListParams};
use etcd_client::{Compare, CompareOp, EventType, GetOptions, KvClient, Txn, TxnOp, WatchOptions};
use futures::{StreamExt, TryStreamExt};
use rand::Rng;
use serde_json::{json, Value};
use std::time::Duration;

/// etcd-client decodes at most 4 MiB per message by default; a range over
/// 10,000 pods is about 13 MB.
const MAX_DECODED: usize = 1 << 30;
/// Watches opened at once while setting up the watchers.
const WATCH_OPEN_CONCURRENCY: usize = 64;
/// The most watches put on one apiserver connection: HTTP/2 servers cap the
/// concurrent streams per connection (hyper's default is 200), and a watch
/// beyond the cap would wait for a free stream instead of starting.
const WATCHES_PER_CONNECTION: usize = 100;
/// After the last watch is open, before the first write: lets every watch
/// finish setting up inside the servers, so the first events measure delivery.
const WATCH_SETTLE: Duration = Duration::from_millis(500);
/// The resources the churn phase writes: pods, and services, whose creates
/// and deletes also allocate and release a ClusterIP.
pub(super) const CHURN_RESOURCES: [&str; 2] = ["pods", "services"];

pub(super) struct Ctx {
    plan: Plan,
    target: Target,
    run_id: String,
    api: Vec<Client>,
    /// One client of the HTTP front per load client, each keeping its own
    /// HTTP/1.1 connection (they send one request at a time).
    http: Vec<Http>,
    kv: Vec<KvClient>,
    etcd: etcd_client::Client,
    pods: &'static ResourceInfo,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Ctx {
    pub(super) async fn connect(plan: &Plan, target: &Target) -> anyhow::Result<Ctx> {
        let api = futures::future::try_join_all((0..plan.clients).map(|_| Client::connect(&target.server)))
            .await
            .map_err(|e| anyhow::anyhow!("connect to the apiserver at {}: {e}", target.server))?;
        let etcd = futures::future::try_join_all((0..plan.clients).map(|_| connect_etcd(&target.etcd))).await?;
        let kv = etcd.iter().map(|c| c.kv_client().max_decoding_message_size(MAX_DECODED)).collect();
        let http: Vec<Http> = (0..plan.clients).map(|_| Http::new(&target.server, false)).collect();
        // Open each HTTP connection now, as the gRPC ones are, so no phase pays for it.
        futures::future::try_join_all(
            http.iter().map(|h| h.call(hyper::Method::GET, "/version", http::ACCEPT_JSON, None)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("the apiserver's HTTP front at {}: {e}", target.server))?;
        let run_id: String = {
            const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
            let mut rng = rand::rng();
            (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
        };
        Ok(Ctx {
            plan: plan.clone(),
            target: target.clone(),
            run_id,
            api,
            http,
            kv,
            etcd: etcd[0].clone(),
            pods: api::registry::lookup("pods").expect("pods are registered"),
        })
    }

    pub(super) fn plan(&self) -> &Plan {
        &self.plan
    }

    pub(super) fn target(&self) -> &Target {
        &self.target
    }

    /// The namespace of one phase's pods.
    fn namespace(&self, phase: &str) -> String {
        format!("bench-{}-{phase}", self.run_id)
    }

    fn namespaces(&self) -> Vec<String> {
        let mut all = vec![
            self.namespace("creates"),
            self.namespace("http-creates"),
            self.namespace("watch"),
            self.namespace("http-watch"),
            self.namespace("h2-watch"),
            self.namespace("churn"),
        ];
        all.extend(self.plan.list_sizes.iter().map(|n| self.namespace(&format!("list-{n}"))));
        all
    }

    /// The etcd prefix of one raw phase's keys, outside `/registry/` so the
    /// apiserver never sees them.
    fn raw_prefix(&self, phase: &str) -> String {
        format!("/kubelab-bench/{}/{phase}/", self.run_id)
    }

    pub(super) fn pod_bytes(&self) -> usize {
        serde_json::to_vec(&pod::pod(&self.namespace("creates"), &pod::name(0))).map_or(0, |v| v.len())
    }

    pub(super) fn watch_connections(&self) -> usize {
        self.plan.watch_connections.max(self.plan.watchers.div_ceil(WATCHES_PER_CONNECTION))
    }

    pub(super) async fn etcd_version(&self) -> Result<String, String> {
        let status = self.etcd.maintenance_client().status().await.map_err(text)?;
        Ok(status.version().to_string())
    }

    pub(super) async fn create_namespaces(&self) -> anyhow::Result<()> {
        let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
        for name in self.namespaces() {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            self.api[0]
                .create(namespaces, "", &ns)
                .await
                .map_err(|e| anyhow::anyhow!("create namespace {name} through the apiserver: {e}"))?;
        }
        Ok(())
    }

    /// Removes what the run wrote, for runs against a cluster that outlives them.
    pub(super) async fn cleanup(&self) {
        let mut kv = self.kv[0].clone();
        let prefix = format!("/kubelab-bench/{}/", self.run_id);
        if let Err(e) = kv.delete(prefix.clone(), Some(etcd_client::DeleteOptions::new().with_prefix())).await {
            eprintln!("[api] could not delete etcd keys under {prefix}: {e}");
        }
        // Deleting a namespace deletes its pods (none is bound to a node, so at once).
        let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
        for name in self.namespaces() {
            if let Err(e) = self.api[0].delete(namespaces, "", &name, &DeleteParams::default()).await {
                eprintln!("[api] could not delete namespace {name}: {e}");
            }
        }
    }

    /// Raw etcd puts of pod-sized values under distinct keys.
    pub(super) async fn raw_puts(&self) -> Outcome {
        let (prefix, ns) = (self.raw_prefix("puts"), self.namespace("creates"));
        drive(&self.kv, self.plan.budget, move |mut kv, n| {
            let key = format!("{prefix}{}", pod::name(n));
            let value = serde_json::to_vec(&pod::pod(&ns, &pod::name(n)));
            async move {
                kv.put(key, value.map_err(text)?, None).await.map_err(text)?;
                Ok(())
            }
        })
        .await
    }

    /// Raw etcd gets of random keys among the first `keys` puts.
    pub(super) async fn raw_gets(&self, keys: u64) -> Outcome {
        let prefix = self.raw_prefix("puts");
        drive(&self.kv, self.plan.budget, move |mut kv, _| {
            let key = format!("{prefix}{}", pod::name(rand::rng().random_range(0..keys.max(1))));
            async move {
                let got = kv.get(key.clone(), None).await.map_err(text)?;
                if got.kvs().is_empty() {
                    return Err(format!("{key} not found"));
                }
                Ok(())
            }
        })
        .await
    }

    /// What etcd does for a create at least: a transaction that puts a
    /// pod-sized value only if its key has never been written (create
    /// revision 0), as the apiserver's store does, under distinct keys.
    pub(super) async fn raw_create_txns(&self) -> Outcome {
        let (prefix, ns) = (self.raw_prefix("create-txns"), self.namespace("creates"));
        drive(&self.kv, self.plan.budget, move |mut kv, n| {
            let key = format!("{prefix}{}", pod::name(n));
            let value = serde_json::to_vec(&pod::pod(&ns, &pod::name(n)));
            async move {
                let txn = Txn::new()
                    .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key.as_str(), value.map_err(text)?, None)]);
                if !kv.txn(txn).await.map_err(text)?.succeeded() {
                    return Err(format!("etcd txn create {key}: the key exists"));
                }
                Ok(())
            }
        })
        .await
    }

    pub(super) async fn creates(&self) -> Outcome {
        self.create_pods(self.namespace("creates"), self.plan.budget).await
    }

    /// Fills the namespace of the list of `size` pods.
    pub(super) async fn fill(&self, size: u64) -> Outcome {
        self.create_pods(self.namespace(&format!("list-{size}")), Budget::ops(size)).await
    }

    async fn create_pods(&self, ns: String, budget: Budget) -> Outcome {
        let pods = self.pods;
        // Encoded per call and not decoded back, as the raw puts do.
        drive(&self.api, budget, move |client, n| {
            let json = serde_json::to_vec(&pod::pod(&ns, &pod::name(n)));
            let ns = ns.clone();
            async move {
                let created = client.create_raw(pods, &ns, json.map_err(text)?).await.map_err(text)?;
                expect_object(&created.json)
            }
        })
        .await
    }

    /// Gets of random pods among the first `created` creates.
    pub(super) async fn gets(&self, created: u64) -> Outcome {
        let (pods, ns) = (self.pods, self.namespace("creates"));
        drive(&self.api, self.plan.budget, move |client, _| {
            let name = pod::name(rand::rng().random_range(0..created.max(1)));
            let ns = ns.clone();
            async move {
                let got = client.get_raw(pods, &ns, &name).await.map_err(text)?;
                expect_object(&got.json)
            }
        })
        .await
    }

    /// Creates through the HTTP front: a POST of the same pod JSON as the
    /// gRPC creates, into a namespace of their own.
    pub(super) async fn http_creates(&self) -> Outcome {
        let ns = self.namespace("http-creates");
        let path = format!("/api/v1/namespaces/{ns}/pods");
        drive(&self.http, self.plan.budget, move |client, n| {
            let json = serde_json::to_vec(&pod::pod(&ns, &pod::name(n)));
            let path = path.clone();
            async move { client.create(&path, json.map_err(text)?).await }
        })
        .await
    }

    /// Gets of random pods among the first `created` HTTP creates.
    pub(super) async fn http_gets(&self, created: u64) -> Outcome {
        let ns = self.namespace("http-creates");
        drive(&self.http, self.plan.budget, move |client, _| {
            let path =
                format!("/api/v1/namespaces/{ns}/pods/{}", pod::name(rand::rng().random_range(0..created.max(1))));
            async move { client.get(&path).await }
        })
        .await
    }

    fn list_path(&self, size: u64) -> String {
        format!("/api/v1/namespaces/{}/pods", self.namespace(&format!("list-{size}")))
    }

    /// One list of `size` pods through the HTTP front with `accept`, checked
    /// in full (status, kind, item count), outside the timed phase. Returns
    /// the answer's size in bytes.
    pub(super) async fn http_list_once(&self, size: u64, accept: &str) -> Result<usize, String> {
        let path = self.list_path(size);
        let answer = self.http[0].call(hyper::Method::GET, &path, accept, None).await?;
        answer.expect(hyper::StatusCode::OK, "GET", &path)?;
        let list = http::list_summary(&answer.body)?;
        let want = if accept.contains("as=Table") { "Table" } else { "PodList" };
        if list.kind != want {
            return Err(format!("asked for {accept}, got a {} ({})", list.kind, answer.content_type));
        }
        expect_items(list.items, size)?;
        Ok(answer.body.len())
    }

    /// Lists of `size` pods through the HTTP front with `accept` (JSON or a
    /// Table), read to the end and checked for their status; the shape was
    /// checked once by [`Ctx::http_list_once`].
    pub(super) async fn http_lists(&self, size: u64, accept: &'static str) -> Outcome {
        let path = self.list_path(size);
        drive(&self.http, self.list_budget(), move |client, _| {
            let path = path.clone();
            async move {
                let answer = client.call(hyper::Method::GET, &path, accept, None).await?;
                answer.expect(hyper::StatusCode::OK, "GET", &path)
            }
        })
        .await
    }

    fn list_budget(&self) -> Budget {
        self.plan.budget.at_most(self.plan.list_repeats)
    }

    /// One etcd range over the prefix the apiserver keeps the list's pods under.
    pub(super) async fn raw_lists(&self, size: u64) -> Outcome {
        let prefix = self.pods.namespace_prefix(&self.namespace(&format!("list-{size}")));
        drive(&self.kv, self.list_budget(), move |mut kv, _| {
            let prefix = prefix.clone();
            async move {
                let got = kv.get(prefix, Some(GetOptions::new().with_prefix())).await.map_err(text)?;
                expect_items(got.kvs().len(), size)
            }
        })
        .await
    }

    pub(super) async fn lists(&self, size: u64) -> Outcome {
        let (pods, ns) = (self.pods, self.namespace(&format!("list-{size}")));
        drive(&self.api, self.list_budget(), move |client, _| {
            let ns = ns.clone();
            async move {
                let list = client.list(pods, &ns, &ListParams::default()).await.map_err(text)?;
                expect_items(list["items"].as_array().map_or(0, Vec::len), size)
            }
        })
        .await
    }

    /// The average size of the pods the apiserver stored, read back from etcd.
    pub(super) async fn stored_object_bytes(&self) -> Option<f64> {
        let prefix = self.pods.namespace_prefix(&self.namespace("creates"));
        let mut kv = self.kv[0].clone();
        let got = kv.get(prefix, Some(GetOptions::new().with_prefix().with_limit(200))).await.ok()?;
        let n = got.kvs().len();
        (n > 0).then(|| got.kvs().iter().map(|kv| kv.value().len()).sum::<usize>() as f64 / n as f64)
    }

    /// Delivery of stamped puts to etcd watchers, each its own watch stream, as
    /// the apiserver opens one per API watch.
    pub(super) async fn raw_watch(&self) -> anyhow::Result<Delivery> {
        let prefix = self.raw_prefix("watch");
        let conns =
            futures::future::try_join_all((0..self.watch_connections()).map(|_| connect_etcd(&self.target.etcd)))
                .await?;
        let streams: Vec<StampStream> = futures::stream::iter(0..self.plan.watchers)
            .map(|w| {
                let mut watches = conns[w % conns.len()].watch_client();
                let prefix = prefix.clone();
                async move {
                    // The same options as the apiserver's store: prefix and previous values.
                    let options = WatchOptions::new().with_prefix().with_prev_key();
                    let mut stream = watches.watch(prefix, Some(options)).await?;
                    match stream.message().await? {
                        Some(created) if created.created() => Ok(raw_stamps(stream)),
                        _ => anyhow::bail!("etcd did not create the watch"),
                    }
                }
            })
            .buffer_unordered(WATCH_OPEN_CONCURRENCY)
            .try_collect()
            .await?;
        tokio::time::sleep(WATCH_SETTLE).await;
        let (kv, ns) = (self.kv.clone(), self.namespace("watch"));
        let delivery =
            watch::measure(streams, self.plan.watch_warmup, self.plan.watch_writes, self.plan.watch_rate, move |n| {
                let mut kv = kv[n as usize % kv.len()].clone();
                let key = format!("{prefix}{}", pod::name(n));
                let mut obj = pod::pod(&ns, &pod::name(n));
                async move {
                    pod::stamp(&mut obj, pod::now_nanos());
                    let value = serde_json::to_vec(&obj).map_err(text)?;
                    kv.put(key, value, None).await.map_err(text)?;
                    Ok(())
                }
            })
            .await;
        Ok(delivery)
    }

    /// Delivery of stamped creates to apiserver watchers spread over a few
    /// connections, each starting at the resourceVersion of a list, as an informer does.
    pub(super) async fn watch(&self) -> anyhow::Result<Delivery> {
        let (pods, ns) = (self.pods, self.namespace("watch"));
        let conns =
            futures::future::try_join_all((0..self.watch_connections()).map(|_| Client::connect(&self.target.server)))
                .await
                .map_err(|e| anyhow::anyhow!("connect watchers: {e}"))?;
        let list = self.api[0].list(pods, &ns, &ListParams::default()).await?;
        let rv = api::meta::resource_version(&list).to_string();
        let streams: Vec<StampStream> = futures::stream::iter(0..self.plan.watchers)
            .map(|w| {
                let (client, ns, rv) = (conns[w % conns.len()].clone(), ns.clone(), rv.clone());
                async move { client.watch_raw(pods, &ns, &ListParams::default(), &rv).await.map(api_stamps) }
            })
            .buffer_unordered(WATCH_OPEN_CONCURRENCY)
            .try_collect()
            .await?;
        tokio::time::sleep(WATCH_SETTLE).await;
        let api = self.api.clone();
        let delivery =
            watch::measure(streams, self.plan.watch_warmup, self.plan.watch_writes, self.plan.watch_rate, move |n| {
                let client = api[n as usize % api.len()].clone();
                let mut obj = pod::pod(&ns, &pod::name(n));
                let ns = ns.clone();
                async move {
                    pod::stamp(&mut obj, pod::now_nanos());
                    client.create(pods, &ns, &obj).await.map_err(text)?;
                    Ok(())
                }
            })
            .await;
        Ok(delivery)
    }
}

impl Ctx {
    /// Delivery of stamped HTTP creates to HTTP watchers
    /// (`?watch=1&resourceVersion=N`, N from a list, as a reflector starts),
    /// over HTTP/1.1 with a connection per watch as client-go does against
    /// an `http://` server, or over h2c sharing a few connections.
    pub(super) async fn http_watch(&self, http2: bool) -> anyhow::Result<Delivery> {
        let ns = self.namespace(if http2 { "h2-watch" } else { "http-watch" });
        let path = format!("/api/v1/namespaces/{ns}/pods");
        let list =
            self.http[0].call(hyper::Method::GET, &path, http::ACCEPT_JSON, None).await.map_err(anyhow::Error::msg)?;
        list.expect(hyper::StatusCode::OK, "GET", &path).map_err(anyhow::Error::msg)?;
        let rv = http::list_summary(&list.body).map_err(anyhow::Error::msg)?.resource_version;
        let watch_path = format!("{path}?watch=1&resourceVersion={rv}");
        // Over HTTP/1.1 one pooled client opens a connection per watch in flight.
        let conns: Vec<Http> = if http2 {
            (0..self.watch_connections()).map(|_| Http::new(&self.target.server, true)).collect()
        } else {
            vec![Http::new(&self.target.server, false)]
        };
        let streams: Vec<StampStream> = futures::stream::iter(0..self.plan.watchers)
            .map(|w| {
                let (client, watch_path) = (conns[w % conns.len()].clone(), watch_path.clone());
                async move { client.watch(&watch_path).await }
            })
            .buffer_unordered(WATCH_OPEN_CONCURRENCY)
            .try_collect()
            .await
            .map_err(|e| anyhow::anyhow!("open the HTTP watches: {e}"))?;
        tokio::time::sleep(WATCH_SETTLE).await;
        let writers = self.http.clone();
        let delivery =
            watch::measure(streams, self.plan.watch_warmup, self.plan.watch_writes, self.plan.watch_rate, move |n| {
                let client = writers[n as usize % writers.len()].clone();
                let mut obj = pod::pod(&ns, &pod::name(n));
                let path = path.clone();
                async move {
                    pod::stamp(&mut obj, pod::now_nanos());
                    client.create(&path, serde_json::to_vec(&obj).map_err(text)?).await
                }
            })
            .await;
        Ok(delivery)
    }

    /// The connections the HTTP watchers use: shared h2c ones, or one HTTP/1.1 connection each.
    pub(super) fn http_watch_connections(&self, http2: bool) -> usize {
        if http2 {
            self.watch_connections()
        } else {
            self.plan.watchers
        }
    }

    /// The churn schedule through the apiserver: creates, label updates with
    /// the resourceVersion of the previous answer, status updates through the
    /// subresource, and deletes, of every churn resource.
    pub(super) async fn churn(&self, schedule: &Schedule) -> Churned {
        let ns = self.namespace("churn");
        let infos = churn_infos();
        let api = self.api.clone();
        churn::run(schedule, move |step, previous: Option<Value>| {
            // Spread the requests over every client connection.
            let client = api[(step.object as usize * infos.len() + step.resource) % api.len()].clone();
            let (info, ns) = (infos[step.resource], ns.clone());
            async move {
                let name = churn_name(info, step.object);
                let answer = match (step.verb, previous) {
                    (Verb::Create, _) => client.create(info, &ns, &churn_object(info, &ns, &name)).await,
                    (Verb::Update, Some(mut obj)) => {
                        relabel(&mut obj, step.object);
                        client.update(info, &ns, &obj).await
                    }
                    (Verb::UpdateStatus, Some(mut obj)) => {
                        set_churn_condition(&mut obj);
                        client.update_status(info, &ns, &obj).await
                    }
                    (Verb::Delete, Some(_)) => client.delete(info, &ns, &name, &DeleteParams::default()).await,
                    (verb, None) => return Err(format!("{} of {name} without its earlier steps", verb.name())),
                };
                answer.map_err(|e| format!("{} {}/{name}: {e}", step.verb.name(), info.plural))
            }
        })
        .await
    }

    /// The same schedule on raw etcd, as the apiserver's store writes: a
    /// create is a put if the key is absent, an update a put if the key's
    /// mod revision is the one the previous step left, a delete likewise
    /// guarded. Values are the objects as the apiserver stores them.
    pub(super) async fn raw_churn(&self, schedule: &Schedule) -> Churned {
        let (prefix, ns) = (self.raw_prefix("churn"), self.namespace("churn"));
        let infos = churn_infos();
        let kv = self.kv.clone();
        churn::run(schedule, move |step, previous: Option<i64>| {
            let mut kv = kv[(step.object as usize * infos.len() + step.resource) % kv.len()].clone();
            let info = infos[step.resource];
            let name = churn_name(info, step.object);
            let key = format!("{prefix}{}/{name}", info.plural);
            let mut obj = stored_churn_object(info, &ns, &name);
            if matches!(step.verb, Verb::Update | Verb::UpdateStatus) {
                relabel(&mut obj, step.object);
            }
            if step.verb == Verb::UpdateStatus {
                set_churn_condition(&mut obj);
            }
            async move {
                let exists = Compare::create_revision(key.as_str(), CompareOp::Greater, 0);
                let txn = match (step.verb, previous) {
                    (Verb::Create, _) => Txn::new()
                        .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(key.as_str(), serde_json::to_vec(&obj).map_err(text)?, None)]),
                    (Verb::Update | Verb::UpdateStatus, Some(rev)) => Txn::new()
                        .when([Compare::mod_revision(key.as_str(), CompareOp::Equal, rev), exists])
                        .and_then([TxnOp::put(key.as_str(), serde_json::to_vec(&obj).map_err(text)?, None)])
                        .or_else([TxnOp::get(key.as_str(), None)]),
                    (Verb::Delete, Some(rev)) => Txn::new()
                        .when([Compare::mod_revision(key.as_str(), CompareOp::Equal, rev), exists])
                        .and_then([TxnOp::delete(key.as_str(), None)])
                        .or_else([TxnOp::get(key.as_str(), None)]),
                    (verb, None) => return Err(format!("{} of {key} without its earlier steps", verb.name())),
                };
                let response = kv.txn(txn).await.map_err(text)?;
                if !response.succeeded() {
                    return Err(format!("etcd txn {} {key}: compare failed", step.verb.name()));
                }
                response.header().map(|h| h.revision()).ok_or_else(|| format!("etcd txn {key}: no header"))
            }
        })
        .await
    }
}

fn churn_infos() -> Vec<&'static ResourceInfo> {
    CHURN_RESOURCES.iter().map(|r| api::registry::lookup(r).expect("churn resources are registered")).collect()
}

/// `pod-0000042`, `service-0000042`: fixed width, so names sort as numbers do.
fn churn_name(info: &ResourceInfo, n: u64) -> String {
    format!("{}-{n:07}", info.singular)
}

/// What the churn creates through the apiserver.
fn churn_object(info: &ResourceInfo, ns: &str, name: &str) -> Value {
    match info.kind {
        "Pod" => pod::pod(ns, name),
        "Service" => json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "kubia"}},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": "kubia"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                "sessionAffinity": "None"
            }
        }),
        other => unreachable!("no churn object for {other}"),
    }
}

/// The object as the apiserver would store it, server-set fields included,
/// so raw etcd moves values of the same size.
fn stored_churn_object(info: &ResourceInfo, ns: &str, name: &str) -> Value {
    let mut obj = churn_object(info, ns, name);
    if info.kind == "Service" {
        obj["metadata"]["uid"] = "6f1c2a9e-3d4b-4e8f-a1b2-c3d4e5f60718".into();
        obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
        let spec = &mut obj["spec"];
        spec["clusterIP"] = "10.96.12.34".into();
        spec["clusterIPs"] = json!(["10.96.12.34"]);
        spec["ipFamilies"] = json!(["IPv4"]);
        spec["ipFamilyPolicy"] = "SingleStack".into();
        spec["internalTrafficPolicy"] = "Cluster".into();
        obj["status"] = json!({"loadBalancer": {}});
    }
    obj
}

/// The churn's metadata change: a label that differs on every object.
fn relabel(obj: &mut Value, n: u64) {
    obj["metadata"]["labels"]["bench.kubelab.io/churn"] = n.to_string().into();
}

/// The churn's status change: a condition of the bench's own type (pods
/// and services both take conditions with these fields).
fn set_churn_condition(obj: &mut Value) {
    obj["status"]["conditions"] = json!([{
        "type": "bench.kubelab.io/Churned",
        "status": "True",
        "reason": "Churned",
        "message": "status updated by the bench's churn phase",
        "lastTransitionTime": "2026-01-01T00:00:00Z"
    }]);
}

async fn connect_etcd(url: &str) -> anyhow::Result<etcd_client::Client> {
    etcd_client::Client::connect([url], None).await.map_err(|e| anyhow::anyhow!("connect to etcd at {url}: {e}"))
}

/// The apiserver answered with an object (its JSON is left undecoded, as raw
/// etcd values are).
fn expect_object(json: &[u8]) -> Result<(), String> {
    if json.first() != Some(&b'{') {
        return Err(format!("the apiserver answered with {} bytes that are not a JSON object", json.len()));
    }
    Ok(())
}

fn expect_items(got: usize, want: u64) -> Result<(), String> {
    if got as u64 != want {
        return Err(format!("listed {got} items, expected {want}"));
    }
    Ok(())
}

/// The send stamps of the pods an etcd watch response reports as written.
fn raw_stamps(stream: etcd_client::WatchStream) -> StampStream {
    futures::stream::unfold(stream, |mut stream| async move {
        let item = match stream.message().await {
            Ok(Some(response)) => Ok(response
                .events()
                .iter()
                .filter(|e| e.event_type() == EventType::Put)
                .filter_map(|e| e.kv())
                .filter_map(|kv| pod::sent_nanos_in(kv.value()))
                .collect()),
            Ok(None) => return None,
            Err(e) => Err(e.to_string()),
        };
        Some((item, stream))
    })
    .boxed()
}

/// The send stamps of the pods an apiserver watch reports as ADDED.
fn api_stamps(stream: client::RawWatchStream) -> StampStream {
    stream
        .map(|item| match item {
            Ok(event) if event.r#type == "ADDED" => Ok(pod::sent_nanos_in(&event.json).into_iter().collect()),
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        })
        .boxed()
}
