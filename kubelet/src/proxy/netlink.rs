//! Service IPs on the node's `lo`, through netlink (rtnetlink): each ClusterIP
//! as a /32, so the proxy can listen on it and pods routed to the node reach
//! it. The node owns every /32 of the service CIDR on `lo`: one that no service
//! wants any more (a deleted service, or a kubelet that died) is removed.
//!
//! Only the compose cluster runs this (it needs CAP_NET_ADMIN); keep it small.

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::Handle;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

/// An IPv4 network such as the service CIDR 10.96.0.0/12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let IpAddr::V4(ip) = ip else { return false };
        let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

/// What goes wrong with service addresses on `lo`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0:?}: expected a CIDR such as 10.96.0.0/12")]
    NotCidr(String),
    #[error("{text:?}: {source}")]
    BadAddress { text: String, source: std::net::AddrParseError },
    #[error("{0:?}: bad prefix length")]
    BadPrefix(String),
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("no lo interface")]
    NoLoopback,
    #[error("cannot add {ip}/32 to lo (the kubelet needs CAP_NET_ADMIN): {source}")]
    Add { ip: IpAddr, source: rtnetlink::Error },
    #[error("{0}")]
    Netlink(#[from] rtnetlink::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::str::FromStr for Cidr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (addr, len) = s.split_once('/').ok_or_else(|| Error::NotCidr(s.into()))?;
        let addr = addr.parse().map_err(|source| Error::BadAddress { text: s.into(), source })?;
        let len = len.parse().ok().filter(|l| *l <= 32).ok_or_else(|| Error::BadPrefix(s.into()))?;
        Ok(Self { addr, len })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The loopback interface's service addresses.
pub struct Loopback {
    handle: Handle,
    index: u32,
    cidr: Cidr,
}

impl Loopback {
    /// Opens a netlink socket and finds `lo`.
    pub async fn open(cidr: Cidr) -> Result<Self> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(connection);
        let link = handle.link().get().match_name("lo".to_string()).execute().try_next().await?;
        let index = link.ok_or(Error::NoLoopback)?.header.index;
        Ok(Self { handle, index, cidr })
    }

    /// The /32s of the service CIDR on `lo` now, with their netlink messages.
    async fn current(&self) -> Result<Vec<(IpAddr, AddressMessage)>> {
        let mut out = Vec::new();
        let mut stream = self.handle.address().get().set_link_index_filter(self.index).execute();
        while let Some(msg) = stream.try_next().await? {
            let ip = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) | AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            if let Some(ip) = ip.filter(|ip| msg.header.prefix_len == 32 && self.cidr.contains(*ip)) {
                out.push((ip, msg));
            }
        }
        Ok(out)
    }

    /// Adds the addresses of `want` that `lo` lacks.
    pub async fn add(&self, want: &BTreeSet<IpAddr>) -> Result<()> {
        let have: BTreeSet<IpAddr> = self.current().await?.into_iter().map(|(ip, _)| ip).collect();
        for ip in want.difference(&have) {
            self.handle
                .address()
                .add(self.index, *ip, 32)
                .execute()
                .await
                .map_err(|source| Error::Add { ip: *ip, source })?;
            tracing::debug!(%ip, "service address added to lo");
        }
        Ok(())
    }

    /// Removes the service CIDR's addresses that are not in `want`.
    pub async fn remove_others(&self, want: &BTreeSet<IpAddr>) -> Result<()> {
        for (ip, msg) in self.current().await? {
            if !want.contains(&ip) {
                self.handle.address().del(msg).execute().await?;
                tracing::debug!(%ip, "service address removed from lo");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_cidr_contains_its_addresses_only() {
        let cidr: Cidr = "10.96.0.0/12".parse().unwrap();
        assert!(cidr.contains("10.96.0.1".parse().unwrap()));
        assert!(cidr.contains("10.111.255.254".parse().unwrap()));
        assert!(!cidr.contains("10.112.0.1".parse().unwrap()));
        assert!(!cidr.contains("127.0.0.1".parse().unwrap()));
        assert!(!cidr.contains("::1".parse().unwrap()));
        assert_eq!(cidr.to_string(), "10.96.0.0/12");
        assert!("10.96.0.0".parse::<Cidr>().is_err());
        assert!("10.96.0.0/33".parse::<Cidr>().is_err());
    }
}
