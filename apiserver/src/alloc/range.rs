//! The in-memory picture of one allocation range (service IPs or node ports):
//! which offsets are taken, and how a free one is picked.
//!
//! This is only a hint for choosing candidates. The truth is the allocation
//! keys in the store, created with create-if-absent; a candidate this view
//! thinks free may still turn out taken (by another apiserver), and the caller
//! then marks it and picks again.
//!
//! Picking follows Kubernetes' allocators (KEP-3070/3668): a range is split
//! into a small lower band, preferred for addresses people ask for by number
//! (10.96.0.10 for DNS), and the upper band, where dynamic allocation starts at
//! a random offset and scans forward; only when the upper band is full does it
//! fall back to the lower one.

use rand::Rng;
use std::net::Ipv4Addr;

/// Which offsets of a range are in use, with Kubernetes' two-band picking.
#[derive(Debug, Clone)]
pub struct Pool {
    size: u32,
    /// Offsets below this are the static band, used for dynamic picks last.
    band: u32,
    /// Offsets dynamic allocation never picks (only explicit requests get them).
    reserved: Vec<u32>,
    bits: Vec<u64>,
    used: u32,
}

impl Pool {
    /// A pool of `size` offsets; `band` as Kubernetes' `calculateRangeOffset`.
    pub fn new(size: u32, band: u32, reserved: Vec<u32>) -> Self {
        let words = size.div_ceil(64) as usize;
        Self { size, band: band.min(size), reserved, bits: vec![0; words], used: 0 }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn used(&self) -> u32 {
        self.used
    }

    pub fn is_used(&self, i: u32) -> bool {
        i < self.size && self.bits[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// Marks `i` used; false if it already was (or is out of range).
    pub fn mark(&mut self, i: u32) -> bool {
        if i >= self.size || self.is_used(i) {
            return false;
        }
        self.bits[(i / 64) as usize] |= 1 << (i % 64);
        self.used += 1;
        true
    }

    pub fn unmark(&mut self, i: u32) {
        if self.is_used(i) {
            self.bits[(i / 64) as usize] &= !(1 << (i % 64));
            self.used -= 1;
        }
    }

    /// Forgets every mark (before re-reading the store).
    pub fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
        self.used = 0;
    }

    /// A free offset for dynamic allocation, not marked; None when none is left.
    pub fn peek(&self, rng: &mut impl Rng) -> Option<u32> {
        self.scan(self.band, self.size, rng).or_else(|| self.scan(0, self.band, rng))
    }

    /// Like `peek`, and marks the offset so concurrent callers pick others.
    pub fn pick(&mut self, rng: &mut impl Rng) -> Option<u32> {
        let i = self.peek(rng)?;
        self.mark(i);
        Some(i)
    }

    /// The first free, unreserved offset in `[from, to)` at or after a random
    /// start, wrapping around.
    fn scan(&self, from: u32, to: u32, rng: &mut impl Rng) -> Option<u32> {
        if from >= to {
            return None;
        }
        let len = to - from;
        let start = rng.random_range(0..len);
        (0..len).map(|k| from + (start + k) % len).find(|&i| !self.is_used(i) && !self.reserved.contains(&i))
    }
}

/// Kubernetes' `calculateRangeOffset`: the size of the static (lower) band.
fn band_size(size: u32, min: u32, max: u32, step: u32) -> u32 {
    if size < min {
        0
    } else {
        (size / step).clamp(min, max)
    }
}

/// Why a `--service-cluster-ip-range` or `--service-node-port-range` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("invalid CIDR {0:?}: missing /prefix")]
    MissingPrefix(String),
    #[error("invalid CIDR {0:?}: kubelab supports IPv4 service ranges only")]
    NotIpv4(String),
    #[error("invalid CIDR {0:?}: bad prefix length")]
    BadPrefixLength(String),
    #[error(
        "service IP range {0:?}: the prefix length must be between 12 and 30 (at most 2^20 addresses, at least 2 usable)"
    )]
    PrefixOutOfRange(String),
    #[error("invalid port range {0:?}: expected <first>-<last>, e.g. 30000-32767")]
    BadPortRange(String),
}

/// The service IP range (`--service-cluster-ip-range`), IPv4 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: Ipv4Addr,
    prefix: u8,
}

impl IpRange {
    /// Parses `10.96.0.0/12`. Like Kubernetes, a range larger than /12 is refused
    /// (the allocation bitmap would be huge), and it must hold usable addresses.
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let (addr, prefix) = s.split_once('/').ok_or_else(|| RangeError::MissingPrefix(s.into()))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| RangeError::NotIpv4(s.into()))?;
        let prefix: u8 = prefix.parse().map_err(|_| RangeError::BadPrefixLength(s.into()))?;
        if !(12..=30).contains(&prefix) {
            return Err(RangeError::PrefixOutOfRange(s.into()));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Self { network: Ipv4Addr::from(u32::from(addr) & mask), prefix })
    }

    /// Usable addresses: all but the network and broadcast addresses.
    pub fn size(&self) -> u32 {
        (1u32 << (32 - self.prefix)) - 2
    }

    /// The offset of `ip` in the range, if it is a usable address of it.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let i = u32::from(ip).checked_sub(u32::from(self.network) + 1)?;
        (i < self.size()).then_some(i)
    }

    pub fn ip(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1 + offset)
    }

    /// The n-th usable address (1-based): `nth(1)` is 10.96.0.1, `nth(10)` 10.96.0.10.
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        self.ip(n - 1)
    }

    /// An empty pool: the first and tenth addresses (the `kubernetes` and
    /// `kube-dns` services) are never handed out dynamically.
    pub fn pool(&self) -> Pool {
        Pool::new(self.size(), band_size(self.size(), 16, 256, 16), vec![0, 9])
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The node port range (`--service-node-port-range`), inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub base: u16,
    pub last: u16,
}

impl PortRange {
    /// Parses `30000-32767` (or `30000+2767`, base plus size, as Kubernetes accepts).
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let bad = || RangeError::BadPortRange(s.into());
        let num = |p: &str| p.trim().parse::<u16>().map_err(|_| bad());
        let (base, last) = if let Some((a, b)) = s.split_once('-') {
            (num(a)?, num(b)?)
        } else if let Some((a, b)) = s.split_once('+') {
            let base = num(a)?;
            (base, base.checked_add(num(b)?).ok_or_else(bad)?)
        } else {
            let p = num(s)?;
            (p, p)
        };
        if base == 0 || last < base {
            return Err(bad());
        }
        Ok(Self { base, last })
    }

    pub fn size(&self) -> u32 {
        u32::from(self.last - self.base) + 1
    }

    pub fn offset(&self, port: i64) -> Option<u32> {
        (i64::from(self.base)..=i64::from(self.last)).contains(&port).then(|| (port - i64::from(self.base)) as u32)
    }

    pub fn port(&self, offset: u32) -> u16 {
        self.base + offset as u16
    }

    pub fn pool(&self) -> Pool {
        Pool::new(self.size(), band_size(self.size(), 16, 128, 32), Vec::new())
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.base, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn parses_ranges_as_kubernetes_prints_them() {
        let r = IpRange::parse("10.96.0.0/12").unwrap();
        assert_eq!(r.to_string(), "10.96.0.0/12");
        assert_eq!(r.size(), (1 << 20) - 2);
        assert_eq!(r.nth(1), Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(r.nth(10), Ipv4Addr::new(10, 96, 0, 10));
        assert_eq!(r.offset(Ipv4Addr::new(10, 96, 0, 0)), None, "the network address is not usable");
        assert_eq!(r.offset(Ipv4Addr::new(10, 111, 255, 255)), None, "nor the broadcast address");
        assert_eq!(r.offset(Ipv4Addr::new(10, 111, 255, 254)), Some(r.size() - 1));
        assert_eq!(r.offset(Ipv4Addr::new(10, 112, 0, 1)), None);
        assert_eq!(IpRange::parse("10.96.7.3/16").unwrap().to_string(), "10.96.0.0/16", "host bits are masked");
        assert!(IpRange::parse("10.0.0.0/8").is_err(), "larger than /12");
        assert!(IpRange::parse("fd00::/112").is_err());
        assert!(IpRange::parse("10.96.0.0").is_err());

        let p = PortRange::parse("30000-32767").unwrap();
        assert_eq!((p.size(), p.to_string()), (2768, "30000-32767".to_string()));
        assert_eq!(PortRange::parse("30000+99").unwrap(), PortRange { base: 30000, last: 30099 });
        assert_eq!(p.offset(29999), None);
        assert_eq!(p.offset(32767), Some(2767));
        assert!(PortRange::parse("32767-30000").is_err());
        assert!(PortRange::parse("a-b").is_err());
    }

    #[test]
    fn random_picks_prefer_the_upper_band_and_skip_reserved_addresses() {
        let range = IpRange::parse("10.96.0.0/12").unwrap();
        let mut pool = range.pool();
        let mut rng = rng();
        let picks: Vec<u32> = (0..200).map(|_| pool.pick(&mut rng).unwrap()).collect();
        assert!(picks.iter().all(|&i| i >= 256), "dynamic picks start above the static band");
        let mut distinct = picks.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 200);
        assert_eq!(pool.used(), 200);
        // Not sequential: random start offsets spread the picks.
        assert!(picks.windows(2).any(|w| w[1] != w[0] + 1));
    }

    #[test]
    fn a_small_pool_fills_sequentially_then_reports_exhaustion() {
        // 10.0.0.0/28: 14 usable, no static band (< 16), .1 and .10 reserved.
        let range = IpRange::parse("10.0.0.0/28").unwrap();
        let mut pool = range.pool();
        let mut rng = rng();
        let mut got: Vec<Ipv4Addr> = std::iter::from_fn(|| pool.pick(&mut rng)).map(|i| range.ip(i)).collect();
        got.sort();
        let expected: Vec<Ipv4Addr> = (2..=14).filter(|&n| n != 10).map(|n| Ipv4Addr::new(10, 0, 0, n)).collect();
        assert_eq!(got, expected, "every address but .1 and .10, each once");
        assert_eq!(pool.pick(&mut rng), None, "exhausted");
        // Released addresses come back; the reserved ones can still be marked explicitly.
        pool.unmark(range.offset(Ipv4Addr::new(10, 0, 0, 7)).unwrap());
        assert_eq!(pool.pick(&mut rng).map(|i| range.ip(i)), Some(Ipv4Addr::new(10, 0, 0, 7)));
        assert!(pool.mark(0) && !pool.mark(0), "explicit marks of reserved offsets work once");
    }

    #[test]
    fn node_ports_fall_back_to_the_lower_band_when_the_upper_is_full() {
        let range = PortRange::parse("30000-32767").unwrap();
        let mut pool = range.pool();
        let mut rng = rng();
        for i in 86..range.size() {
            assert!(pool.mark(i));
        }
        let port = range.port(pool.pick(&mut rng).unwrap());
        assert!((30000..30086).contains(&port), "{port}");
        assert_eq!(pool.peek(&mut rng).map(|i| i < 86), Some(true));
        for i in 0..86 {
            pool.mark(i);
        }
        assert_eq!(pool.peek(&mut rng), None);
        pool.clear();
        assert_eq!(pool.used(), 0);
    }
}
