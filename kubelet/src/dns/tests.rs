//! The DNS server over real sockets on 127.0.0.1: queries built with
//! hickory-proto and sent as raw UDP datagrams and length-prefixed TCP
//! messages, as a pod's resolver sends them; and the watch that keeps the
//! records current, against an in-process apiserver.

use super::*;
use hickory_server::proto::op::{Message, Query};
use hickory_server::proto::rr::RecordType;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

fn query(name: &str, qtype: RecordType, id: u16) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    msg.to_vec().unwrap()
}

async fn ask_udp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(&query(name, qtype, 4242), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    let reply = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(reply.metadata.id, 4242, "the reply answers our query");
    reply
}

async fn ask_tcp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    let q = query(name, qtype, 77);
    stream.write_all(&(q.len() as u16).to_be_bytes()).await.unwrap();
    stream.write_all(&q).await.unwrap();
    let read = async {
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0u8; len as usize];
        stream.read_exact(&mut buf).await.unwrap();
        buf
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), read).await.expect("an answer within 5 s");
    let reply = Message::from_vec(&buf).unwrap();
    assert_eq!(reply.metadata.id, 77);
    reply
}

/// `(rcode, authoritative, answers as text)`.
fn summary(m: &Message) -> (ResponseCode, bool, Vec<String>) {
    let answers = m.answers.iter().map(|r| format!("{} {} {}", r.name, r.ttl, r.data)).collect();
    (m.metadata.response_code, m.metadata.authoritative, answers)
}

fn svc(ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": spec})
}

fn eps(ns: &str, name: &str, subsets: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"namespace": ns, "name": name}, "subsets": subsets})
}

/// A server on 127.0.0.1:<free port> over records fed by hand.
async fn bind(records: Records) -> DnsServer {
    DnsServer::bind("127.0.0.1:0".parse().unwrap(), Arc::new(RwLock::new(records))).await.unwrap()
}

#[tokio::test]
async fn answers_over_udp_and_tcp() {
    let mut r = Records::new("cluster.local");
    r.apply_service(&typed(svc(
        "default",
        "kubia",
        json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}),
    )));
    r.apply_service(&typed(svc("default", "db", json!({"clusterIP": "None"}))));
    r.apply_endpoints(&typed(eps(
        "default",
        "db",
        json!([{"addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}], "notReadyAddresses": [{"ip": "10.244.0.9"}]}]),
    )));
    let server = bind(r).await;
    let (udp, tcp) = (server.udp_addr(), server.tcp_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    for (proto, via_tcp) in [("udp", false), ("tcp", true)] {
        let ask = |name: &'static str, qtype| async move {
            if via_tcp {
                ask_tcp(tcp, name, qtype).await
            } else {
                ask_udp(udp, name, qtype).await
            }
        };
        let a = ask("kubia.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            summary(&a),
            (ResponseCode::NoError, true, vec!["kubia.default.svc.cluster.local. 5 10.96.0.20".to_string()]),
            "{proto}"
        );
        // Any case: the answer is still found.
        let a = ask("Kubia.DEFAULT.svc.Cluster.Local.", RecordType::A).await;
        assert_eq!(summary(&a).2.len(), 1, "{proto}: {a:?}");
        let mut headless = summary(&ask("db.default.svc.cluster.local.", RecordType::A).await).2;
        headless.sort();
        assert_eq!(
            headless,
            ["db.default.svc.cluster.local. 5 10.244.0.5", "db.default.svc.cluster.local. 5 10.244.0.6"],
            "{proto}"
        );
        let nx = ask("nope.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(summary(&nx), (ResponseCode::NXDomain, true, vec![]), "{proto}");
        // The SOA rides along so the negative answer is cached for 5 s only.
        assert_eq!(nx.authorities.len(), 1, "{proto}: {nx:?}");
        assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
        let srv = ask("_http._tcp.kubia.default.svc.cluster.local.", RecordType::SRV).await;
        assert_eq!(
            summary(&srv).2,
            ["_http._tcp.kubia.default.svc.cluster.local. 5 0 100 80 kubia.default.svc.cluster.local."],
            "{proto}"
        );
        let outside = ask("example.com.", RecordType::A).await;
        assert_eq!(summary(&outside), (ResponseCode::Refused, false, vec![]), "{proto}");
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server stops on shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_large_headless_answer_is_truncated_over_udp_and_whole_over_tcp() {
    let mut r = Records::new("cluster.local");
    r.apply_service(&typed(svc("default", "big", json!({"clusterIP": "None"}))));
    let addresses: Vec<Value> = (1..=60).map(|i| json!({"ip": format!("10.244.1.{i}")})).collect();
    r.apply_endpoints(&typed(eps("default", "big", json!([{"addresses": addresses}]))));
    let server = bind(r).await;
    let (udp, tcp) = (server.udp_addr(), server.tcp_addr());
    tokio::spawn(server.run(std::future::pending()));

    // 60 A records do not fit the 512 bytes of a plain UDP answer: TC set,
    // and the resolver retries over TCP, where all of them come back.
    let over_udp = ask_udp(udp, "big.default.svc.cluster.local.", RecordType::A).await;
    assert!(over_udp.metadata.truncation, "{:?}", over_udp.metadata);
    let over_tcp = ask_tcp(tcp, "big.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(over_tcp.answers.len(), 60);
}

#[tokio::test]
async fn a_service_created_after_start_resolves() {
    let api = apiserver::testing::InMemoryApiServer::start().await;
    let services = api::registry::lookup("services").unwrap();
    let endpoints = api::registry::lookup("endpoints").unwrap();
    let records: SharedRecords = Arc::new(RwLock::new(Records::new("cluster.local")));
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap(), records.clone()).await.unwrap();
    let udp = server.udp_addr();
    let informers = client::informer::InformerFactory::new(api.client.clone());
    let shared = crate::informers::ServiceInformers {
        services: informers.informer(services),
        endpoints: informers.informer(endpoints),
    };
    let watch = tokio::spawn(keep_records(shared, records));
    informers.start();
    tokio::spawn(server.run(std::future::pending()));

    let name = "web.default.svc.cluster.local.";
    assert_eq!(ask_udp(udp, name, RecordType::A).await.metadata.response_code, ResponseCode::NXDomain);

    // The apiserver may or may not allocate a ClusterIP yet; ask for one in
    // the service range explicitly so the test does not depend on it.
    let created = api
        .client
        .create(
            services,
            "default",
            &svc(
                "default",
                "web",
                json!({"clusterIP": "10.96.7.7", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
            ),
        )
        .await
        .unwrap();
    let ip = created["spec"]["clusterIP"].as_str().unwrap().to_string();
    let want = vec![format!("{name} 5 {ip}")];
    wait_for(|| async { summary(&ask_udp(udp, name, RecordType::A).await).2 == want }).await;

    // A headless service follows its Endpoints as they are written.
    api.client.create(services, "default", &svc("default", "pods", json!({"clusterIP": "None"}))).await.unwrap();
    api.client
        .create(
            endpoints,
            "default",
            &eps("default", "pods", json!([{"addresses": [{"ip": "10.244.3.4", "hostname": "pod-a"}]}])),
        )
        .await
        .unwrap();
    wait_for(|| async {
        summary(&ask_udp(udp, "pod-a.pods.default.svc.cluster.local.", RecordType::A).await).2
            == ["pod-a.pods.default.svc.cluster.local. 5 10.244.3.4"]
    })
    .await;

    // Deleting the service removes the name.
    api.client.delete(services, "default", "web", &Default::default()).await.unwrap();
    wait_for(|| async { ask_udp(udp, name, RecordType::A).await.metadata.response_code == ResponseCode::NXDomain })
        .await;
    watch.abort();
}

async fn wait_for<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not true within 5 s");
}

/// An object from its JSON form, as the API serves it.
fn typed<K: client::Object>(v: Value) -> K {
    serde_json::from_value(v).expect("a well-formed object")
}
