//! The node-local cluster DNS server: answers `cluster.local` names over UDP
//! and TCP from a watch of every Service and Endpoints, as CoreDNS's
//! `kubernetes` plugin does, and tells the runtime what resolver
//! configuration each pod gets.
//!
//! - [`records`]: the answers (pure; table-tested).
//! - [`pod`]: a pod's nameservers, search domains and options.
//! - here: the hickory server and the task that keeps the records current
//!   from the kubelet's shared informers of Services and Endpoints.
//!
//! The kubelet runs it with [`serve`] on 10.96.0.10:53 (the `kube-dns`
//! service's address, which the node proxy puts on the node's `lo`).

pub mod pod;
pub mod records;

pub use pod::{pod_dns_config, PodDns};
pub use records::Records;

use crate::informers::ServiceInformers;
use client::informer::Change;
use hickory_server::net::runtime::Time;
use hickory_server::net::NetError;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, SRV};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use records::{Rcode, Rr, TTL};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

/// Why the DNS server cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding DNS {protocol} on {addr}: {source}")]
    Bind { protocol: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("the DNS server stopped: {0}")]
    Stopped(NetError),
    #[error("stopping the DNS server: {0}")]
    Shutdown(NetError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The records every query is answered from, shared with the watch that fills them.
pub type SharedRecords = Arc<RwLock<Records>>;

/// A TCP client that sends nothing for this long is dropped.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// Runs the cluster DNS server for `domain` on `addr` (UDP and TCP) until
/// `shutdown` completes, answering from the Services and Endpoints of every
/// namespace that `informers` hold. Errors only if it cannot bind.
pub async fn serve(
    informers: ServiceInformers,
    addr: SocketAddr,
    domain: String,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let records: SharedRecords = Arc::new(RwLock::new(Records::new(&domain)));
    let server = DnsServer::bind(addr, records.clone()).await?;
    tracing::info!(%addr, %domain, "cluster DNS listening");
    let watch = tokio::spawn(keep_records(informers, records));
    let result = server.run(shutdown).await;
    watch.abort();
    result
}

/// Keeps `records` equal to what the informers of Services and Endpoints
/// hold until the task is dropped or an informer stops.
pub async fn keep_records(informers: ServiceInformers, records: SharedRecords) {
    let ServiceInformers { services, endpoints } = informers;
    // Subscribe first, then read the stores: a change in between comes
    // through the subscription as well, and applying it twice is harmless.
    let (mut service_changes, mut endpoints_changes) = (services.subscribe(), endpoints.subscribe());
    let reload = || {
        let mut records = records.write().expect("records lock");
        records.clear();
        services.store().list().iter().for_each(|s| records.apply_service(s));
        endpoints.store().list().iter().for_each(|e| records.apply_endpoints(e));
    };
    reload();
    loop {
        tokio::select! {
            change = service_changes.recv() => match change {
                Some(Change::Added(s) | Change::Updated { new: s, .. }) => {
                    records.write().expect("records lock").apply_service(&s)
                }
                Some(Change::Deleted(s)) => records.write().expect("records lock").delete_service(&s),
                Some(Change::Resync) => reload(),
                None => return,
            },
            change = endpoints_changes.recv() => match change {
                Some(Change::Added(e) | Change::Updated { new: e, .. }) => {
                    records.write().expect("records lock").apply_endpoints(&e)
                }
                Some(Change::Deleted(e)) => records.write().expect("records lock").delete_endpoints(&e),
                Some(Change::Resync) => reload(),
                None => return,
            },
        }
    }
}

/// A bound DNS server: sockets open, not yet answering.
pub struct DnsServer {
    udp: UdpSocket,
    tcp: TcpListener,
    records: SharedRecords,
}

impl DnsServer {
    /// Binds UDP and TCP on `addr`. With port 0 both get the same free port
    /// when they can (else TCP another one): see [`Self::udp_addr`] and
    /// [`Self::tcp_addr`].
    pub async fn bind(addr: SocketAddr, records: SharedRecords) -> Result<Self> {
        let bind_error = |protocol| move |source| Error::Bind { protocol, addr, source };
        let udp = UdpSocket::bind(addr).await.map_err(bind_error("UDP"))?;
        let same_port = SocketAddr::new(addr.ip(), udp.local_addr().map_err(bind_error("UDP"))?.port());
        let tcp = match TcpListener::bind(same_port).await {
            Ok(l) => l,
            Err(_) if addr.port() == 0 => TcpListener::bind(addr).await.map_err(bind_error("TCP"))?,
            Err(e) => return Err(bind_error("TCP")(e)),
        };
        Ok(Self { udp, tcp, records })
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp.local_addr().expect("a bound socket has an address")
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr().expect("a bound socket has an address")
    }

    /// Answers queries until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut server = Server::new(Handler { records: self.records });
        server.register_socket(self.udp);
        server.register_listener(self.tcp, TCP_TIMEOUT, TCP_RESPONSE_BUFFER);
        tokio::select! {
            done = server.block_until_done() => done.map_err(Error::Stopped)?,
            _ = shutdown => server.shutdown_gracefully().await.map_err(Error::Shutdown)?,
        }
        Ok(())
    }
}

struct Handler {
    records: SharedRecords,
}

fn name(s: &str) -> Name {
    let mut n = Name::from_str(s).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}

fn to_record(rr: &Rr) -> Record {
    let data = match &rr.data {
        records::RData::A(IpAddr::V4(ip)) => RData::A(A(*ip)),
        records::RData::A(IpAddr::V6(ip)) => RData::AAAA(AAAA(*ip)),
        records::RData::Cname(target) => RData::CNAME(CNAME(name(target))),
        records::RData::Ns(host) => RData::NS(NS(name(host))),
        records::RData::Srv { priority, weight, port, target } => {
            RData::SRV(SRV::new(*priority, *weight, *port, name(target)))
        }
        records::RData::Soa { mname, rname, serial } => {
            // Refresh, retry and expire as CoreDNS sets them; the minimum is
            // the negative-caching time, so it equals the TTL.
            RData::SOA(SOA::new(name(mname), name(rname), *serial, 7200, 1800, 86400, TTL))
        }
    };
    Record::from_rdata(name(&rr.name), TTL, data)
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        // Answer EDNS with EDNS, so UDP answers may exceed 512 bytes.
        let edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e.set_version(0);
            e
        });
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let query = match request.request_info() {
            Ok(info) if request.metadata.message_type == MessageType::Query => info.query,
            _ => {
                metadata.response_code = ResponseCode::FormErr;
                return send(&mut response_handle, builder.build_no_records(metadata), metadata).await;
            }
        };
        if request.metadata.op_code != OpCode::Query {
            metadata.response_code = ResponseCode::NotImp;
            return send(&mut response_handle, builder.build_no_records(metadata), metadata).await;
        }
        let answer = self.records.read().expect("records lock").lookup(&query.name().to_string(), query.query_type());
        metadata.authoritative = answer.authoritative;
        metadata.response_code = match answer.rcode {
            Rcode::NoError => ResponseCode::NoError,
            Rcode::NxDomain => ResponseCode::NXDomain,
            Rcode::Refused => ResponseCode::Refused,
        };
        let answers: Vec<Record> = answer.answers.iter().map(to_record).collect();
        let soa: Vec<Record> = answer.soa.iter().map(to_record).collect();
        let additionals: Vec<Record> = answer.additionals.iter().map(to_record).collect();
        let response = builder.build(metadata, answers.iter(), [].iter(), soa.iter(), additionals.iter());
        send(&mut response_handle, response, metadata).await
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    metadata: Metadata,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "could not send a DNS response");
            let mut failed = metadata;
            failed.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header { metadata: failed, counts: HeaderCounts::default() })
        }
    }
}

#[cfg(test)]
mod tests;
