//! The pod sandbox's process: it holds the pod's network namespace and hostname
//! for the app containers that join it, reaps the zombies a shared PID namespace
//! hands it, and exits 0 on SIGTERM or SIGINT.
//!
//! When the kubelet runs its node proxy it starts this container with
//! CAP_NET_ADMIN and `KUBELAB_SERVICE_CIDR` / `KUBELAB_SERVICE_GATEWAY`: the
//! first thing it does is route the service CIDR through the node
//! (`ip route add 10.96.0.0/12 via <node IP>`), so that every container of the
//! pod reaches ClusterIPs, which live on the node's `lo`. App containers join
//! the namespace without the capability, so they cannot change the route.

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::net::Ipv4Addr;

const CIDR_ENV: &str = "KUBELAB_SERVICE_CIDR";
const GATEWAY_ENV: &str = "KUBELAB_SERVICE_GATEWAY";

/// `10.96.0.0/12` -> (10.96.0.0, 12).
fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, len) =
        s.split_once('/').ok_or_else(|| format!("{CIDR_ENV}={s:?}: expected an IPv4 CIDR such as 10.96.0.0/12"))?;
    let addr: Ipv4Addr = addr.parse().map_err(|e| format!("{CIDR_ENV}={s:?}: {e}"))?;
    let len: u8 =
        len.parse().ok().filter(|l| *l <= 32).ok_or_else(|| format!("{CIDR_ENV}={s:?}: bad prefix length"))?;
    Ok((addr, len))
}

/// Adds the route to the service CIDR, if the kubelet asked for one.
fn add_service_route() -> Result<(), String> {
    let (Ok(cidr), Ok(gateway)) = (std::env::var(CIDR_ENV), std::env::var(GATEWAY_ENV)) else {
        return Ok(());
    };
    if cidr.is_empty() || gateway.is_empty() {
        return Ok(());
    }
    let (dest, len) = parse_cidr(&cidr)?;
    let via: Ipv4Addr = gateway.parse().map_err(|e| format!("{GATEWAY_ENV}={gateway:?}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(|e| format!("netlink socket: {e}"))?;
        tokio::spawn(connection);
        let route =
            rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dest, len).gateway(via).build();
        match handle.route().add(route).execute().await {
            Ok(()) => Ok(()),
            // A restarted sandbox in a namespace that already has it (EEXIST).
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -(nix::errno::Errno::EEXIST as i32) => Ok(()),
            Err(e) => {
                Err(format!("cannot add the route {cidr} via {gateway} (the pause container needs CAP_NET_ADMIN): {e}"))
            }
        }
    })
}

fn main() -> nix::Result<()> {
    if let Err(e) = add_service_route() {
        eprintln!("pause: {e}");
        std::process::exit(1);
    }
    let signals = samples::signals::block(&[Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD])?;
    loop {
        if signals.wait()? != Signal::SIGCHLD {
            return Ok(());
        }
        // Reap every child that has exited; StillAlive, or ECHILD, means none is left.
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_bad_ones_are_named() {
        assert_eq!(parse_cidr("10.96.0.0/12"), Ok((Ipv4Addr::new(10, 96, 0, 0), 12)));
        assert!(parse_cidr("10.96.0.0").unwrap_err().contains(CIDR_ENV));
        assert!(parse_cidr("10.96.0.0/40").is_err());
    }
}
