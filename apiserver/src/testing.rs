//! Test support for other crates: a real apiserver over the memory store
//! (behind the watch cache, as the daemon serves etcd) on a loopback port, in
//! the calling test's runtime. It stops when that runtime ends. Compiled with
//! the `testing` feature only, the one reason the apiserver knows the client.

use crate::store::{cache::CachedWatchStore, mem::MemStore, Store};
use std::sync::Arc;
use std::time::Duration;

/// An in-process apiserver that has bootstrapped its namespaces.
pub struct InMemoryApiServer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub client: client::Client,
}

impl InMemoryApiServer {
    pub async fn start() -> Self {
        let store: Arc<dyn Store> = Arc::new(CachedWatchStore::new(Arc::new(MemStore::new()), 10_000));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(crate::serve(store, listener, std::future::pending()));
        let client = client::Client::connect_lazy(&url).expect("a valid address");
        let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
        // Serving starts after the system namespaces exist; the last one marks it ready.
        for _ in 0..500 {
            if client.get(namespaces, "", "kube-node-lease").await.is_ok() {
                return Self { url, client };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the in-process apiserver at {url} did not come up");
    }
}
