//! Where other devices on the network (a phone on the same Wi-Fi) can open
//! a server that listens on every interface (SPEC.md section 13): the
//! binary lists these under its ready line. No threads; one system call.
//!
//! They need no entry in `allowed_hosts`: the Host check lets any IP
//! literal through, and a page's `Origin` naming the same address as its
//! `Host` passes the Origin check (both in [`crate::server`]).

use std::io;
use std::net::{IpAddr, SocketAddr};

use nix::net::if_::InterfaceFlags;

/// One address of this machine, on one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanAddress {
    /// The interface's name (`wlan0`, `eth0`, `en0`), to tell a Wi-Fi
    /// address from, say, a container bridge's.
    pub interface: String,
    /// The address itself.
    pub ip: IpAddr,
}

impl LanAddress {
    /// `http://IP:PORT/`, with an IPv6 address in brackets.
    pub fn url(&self, port: u16) -> String {
        super::url_of(SocketAddr::new(self.ip, port))
    }
}

/// The addresses other machines may reach a server listening on `bound`
/// at: none unless `bound` is unspecified (`0.0.0.0`, `::`), where a
/// specific address is the only one and the ready line shows it already.
/// Otherwise every address of each interface that is up and carries
/// traffic, but not loopback or link-local ones; IPv6 ones only for `::`.
/// IPv4 addresses come first (they are shorter to type on a phone), each
/// family in the system's interface order.
///
/// `::` also takes IPv4 connections where the system listens dual-stack,
/// as Linux and macOS do by default (`net.ipv6.bindv6only=0`).
pub fn addresses(bound: IpAddr) -> io::Result<Vec<LanAddress>> {
    if !bound.is_unspecified() {
        return Ok(Vec::new());
    }
    let mut found: Vec<LanAddress> = Vec::new();
    for interface in nix::ifaddrs::getifaddrs()? {
        // RUNNING as well as UP: a bridge with nothing plugged in (docker0
        // without containers) is up, but no phone reaches it.
        let carries = interface
            .flags
            .contains(InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING);
        if !carries || interface.flags.contains(InterfaceFlags::IFF_LOOPBACK) {
            continue;
        }
        let Some(address) = &interface.address else {
            continue;
        };
        // Other families (AF_PACKET: the interface's MAC) have no IP.
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = address.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let address = LanAddress {
            interface: interface.interface_name,
            ip,
        };
        if reachable(ip, bound) && !found.contains(&address) {
            found.push(address);
        }
    }
    found.sort_by_key(|a| a.ip.is_ipv6());
    Ok(found)
}

/// Can a browser on another machine open `ip`, an address of an interface
/// of this one, when the server listens on the unspecified `bound`?
fn reachable(ip: IpAddr, bound: IpAddr) -> bool {
    match ip {
        // 169.254/16 is what an interface gives itself without DHCP: not
        // what a phone on the Wi-Fi has a route to.
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast())
        }
        // Link-local (fe80::/10) would need a zone (`%wlan0`), which
        // browsers do not take in a URL. Unique-local (fd00::/8) stays: it
        // is a home network's own, and `ip addr` calls it global too.
        IpAddr::V6(v6) => {
            bound.is_ipv6()
                && !(v6.is_loopback()
                    || v6.is_unicast_link_local()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.to_ipv4_mapped().is_some())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_addresses_a_phone_can_open() {
        let any4: IpAddr = "0.0.0.0".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        // (address, listed for 0.0.0.0?, listed for ::?)
        let rows = [
            ("192.168.1.20", true, true),
            ("10.0.0.5", true, true),
            ("172.17.0.1", true, true),
            ("127.0.0.1", false, false),
            ("127.1.2.3", false, false),
            ("169.254.10.20", false, false),
            ("0.0.0.0", false, false),
            ("2001:db8::20", false, true),
            ("fd12:3456::20", false, true),
            ("::1", false, false),
            ("fe80::1c7e:6ff:fe28:d0e", false, false),
            ("::", false, false),
            ("ff02::1", false, false),
            ("::ffff:192.168.1.20", false, false),
        ];
        for (ip, for_any4, for_any6) in rows {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(reachable(ip, any4), for_any4, "{ip} for 0.0.0.0");
            assert_eq!(reachable(ip, any6), for_any6, "{ip} for ::");
        }
    }

    #[test]
    fn urls_bracket_ipv6() {
        let at = |ip: &str| LanAddress {
            interface: "wlan0".into(),
            ip: ip.parse().unwrap(),
        };
        assert_eq!(at("192.168.1.20").url(8080), "http://192.168.1.20:8080/");
        assert_eq!(at("2001:db8::20").url(8080), "http://[2001:db8::20]:8080/");
    }

    #[test]
    fn this_machine_lists_no_loopback_and_nothing_for_a_specific_address() {
        let listed = addresses("0.0.0.0".parse().unwrap()).expect("getifaddrs");
        assert!(
            listed.iter().all(|a| a.ip.is_ipv4() && !a.ip.is_loopback()),
            "{listed:?}"
        );
        let listed6 = addresses("::".parse().unwrap()).expect("getifaddrs");
        assert!(listed6.iter().all(|a| !a.ip.is_loopback()), "{listed6:?}");
        // IPv4 first.
        assert!(listed6.is_sorted_by_key(|a| a.ip.is_ipv6()), "{listed6:?}");
        for bound in ["127.0.0.1", "192.168.1.20", "::1"] {
            assert_eq!(addresses(bound.parse().unwrap()).unwrap(), vec![]);
        }
    }
}
