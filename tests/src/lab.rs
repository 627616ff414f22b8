//! A LAN of network namespaces for failover tests: a switch namespace with a Linux bridge and
//! three hosts on it (routers r1 and r2, a client), each on its own veth, with IPv4 and IPv6.
//!
//! ```text
//!   r1 (192.0.2.1, 2001:db8::1)    r2 (.2, ::2)    client (.10, ::10)
//!        eth0                        eth0              eth0
//!         |                           |                 |
//!   [ r1 ----------------------- br0 (switch) -------- cl ]
//! ```
//!
//! The bridge learns no addresses (every port has `learning off`), so it floods every frame
//! like a hub: the client's capture sees unicast adverts between the routers too. Multicast
//! snooping is off so ff02::12 reaches every port whatever MLD says. Every namespace is
//! deleted when the last handle to it goes (the lab's, or a router's still running in it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::{Netns, veth};

/// The interface name of every host, inside its namespace.
pub const IFACE: &str = "eth0";

/// One host on the LAN: a namespace with `eth0` attached to the switch.
#[derive(Debug)]
pub struct Host {
    name: &'static str,
    netns: Arc<Netns>,
    /// The veth end in the switch namespace.
    port: &'static str,
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
    mac: String,
    link_local: Ipv6Addr,
}

impl Host {
    /// `r1`, `r2` or `client`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn netns(&self) -> &Arc<Netns> {
        &self.netns
    }

    /// This host's port (the veth end) in the switch namespace.
    pub fn port(&self) -> &str {
        self.port
    }

    pub fn ipv4(&self) -> Ipv4Addr {
        self.ipv4
    }

    pub fn ipv6(&self) -> Ipv6Addr {
        self.ipv6
    }

    /// The address a router sends adverts of `family` from: its IPv4 address, or its
    /// link-local IPv6 address (RFC 5798 5.1.2.1).
    pub fn advert_source(&self, ipv6: bool) -> IpAddr {
        if ipv6 {
            IpAddr::V6(self.link_local)
        } else {
            IpAddr::V4(self.ipv4)
        }
    }

    /// `eth0`'s MAC address, lower case with colons (as tshark prints it).
    pub fn mac(&self) -> &str {
        &self.mac
    }

    pub fn link_local(&self) -> Ipv6Addr {
        self.link_local
    }

    /// Every address on `eth0` now.
    pub fn addresses(&self) -> anyhow::Result<Vec<IpAddr>> {
        let output = self.netns.ip(&["-j", "addr", "show", "dev", IFACE])?;
        let links: Value = serde_json::from_slice(&output.stdout)?;
        Ok(links[0]["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["local"].as_str()?.parse().ok())
            .collect())
    }

    pub fn holds(&self, address: IpAddr) -> anyhow::Result<bool> {
        Ok(self.addresses()?.contains(&address))
    }

    fn static_addresses(&self) -> [String; 2] {
        [format!("{}/24", self.ipv4), format!("{}/64", self.ipv6)]
    }
}

/// The switch, two routers and a client.
#[derive(Debug)]
pub struct Lab {
    pub r1: Host,
    pub r2: Host,
    pub client: Host,
    switch: Arc<Netns>,
    tag: String,
}

impl Lab {
    /// Builds the LAN; `tag` goes into the namespace names (keep it short: names are cut to
    /// 30 characters with a unique suffix).
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        let switch = Arc::new(Netns::new(&format!("{tag}sw"))?);
        switch.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        // A switch has no address of its own: no router solicitations or MLD from it.
        switch.sysctl("net.ipv6.conf.br0.disable_ipv6", "1")?;
        switch.ip(&["link", "set", "br0", "up"])?;
        let host = |name: &'static str, port: &'static str, last: u8| {
            Self::host(&switch, tag, name, port, last)
        };
        let lab = Self {
            r1: host("r1", "r1", 1)?,
            r2: host("r2", "r2", 2)?,
            client: host("client", "cl", 10)?,
            switch,
            tag: tag.to_owned(),
        };
        // A port learned addresses between joining the bridge and `learning off` (the hosts'
        // IPv6 start-up chatter): forget them, or unicast to those hosts stops being flooded
        // for the 300 s they take to age out, and the client's capture misses it.
        lab.switch
            .ip(&["link", "set", "dev", "br0", "type", "bridge", "fdb_flush"])?;
        let learned = lab.learned_addresses()?;
        if !learned.is_empty() {
            bail!("the switch still learned {learned:?} after a flush");
        }
        Ok(lab)
    }

    /// MAC addresses the switch learned on its ports (none: it floods like a hub).
    pub fn learned_addresses(&self) -> anyhow::Result<Vec<String>> {
        let output = crate::run(
            self.switch
                .exec("bridge")
                .args(["-j", "fdb", "show", "br", "br0"]),
        )?;
        let entries: Vec<Value> = serde_json::from_slice(&output.stdout)?;
        Ok(entries
            .iter()
            .filter(|e| e.get("master").is_some())
            .filter(|e| !matches!(e["state"].as_str(), Some("permanent" | "static")))
            .filter_map(|e| e["mac"].as_str().map(str::to_owned))
            .collect())
    }

    fn host(
        switch: &Netns,
        tag: &str,
        name: &'static str,
        port: &'static str,
        last: u8,
    ) -> anyhow::Result<Host> {
        let netns = Arc::new(Netns::new(&format!("{tag}{port}"))?);
        veth(&netns, IFACE, switch, port)?;
        switch.ip(&["link", "set", port, "master", "br0"])?;
        switch.ip(&[
            "link",
            "set",
            "dev",
            port,
            "type",
            "bridge_slave",
            "learning",
            "off",
        ])?;
        let ipv4 = Ipv4Addr::new(192, 0, 2, last);
        let ipv6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(last));
        let output = netns.ip(&["-j", "link", "show", "dev", IFACE])?;
        let link: Value = serde_json::from_slice(&output.stdout)?;
        let mac = link[0]["address"]
            .as_str()
            .context("eth0 has no MAC address")?
            .to_ascii_lowercase();
        let mut host = Host {
            name,
            netns,
            port,
            ipv4,
            ipv6,
            mac,
            link_local: Ipv6Addr::UNSPECIFIED,
        };
        for cidr in host.static_addresses() {
            host.netns.addr(IFACE, &cidr)?;
        }
        host.link_local = wait_for_link_local(&host)?;
        Ok(host)
    }

    /// One more host on the switch (a third router), with 192.0.2.`last` and 2001:db8::`last`.
    pub fn add_host(
        &self,
        name: &'static str,
        port: &'static str,
        last: u8,
    ) -> anyhow::Result<Host> {
        let host = Self::host(&self.switch, &self.tag, name, port, last)?;
        self.switch
            .ip(&["link", "set", "dev", "br0", "type", "bridge", "fdb_flush"])?;
        Ok(host)
    }

    /// Adds LAN segment `index` (1..) with [`Lab::add_lan`]: bridge `br{index}`, interface
    /// `eth{index}` on both routers, `198.19.{index}.{1,2}/24` (RFC 2544's benchmarking range;
    /// the client stays on eth0's LAN). Returns the routers' interface name. For benches of
    /// many instances on several links.
    pub fn add_link(&self, index: u8) -> anyhow::Result<String> {
        let iface = format!("eth{index}");
        self.add_lan(&format!("br{index}"), &iface, &format!("198.19.{index}"))?;
        Ok(iface)
    }

    /// Another LAN: a bridge `bridge` (named `br<suffix>`) in the switch namespace (flooding
    /// like the first) and an interface `iface` in each router, addressed `prefix.<last>/24`
    /// (r1 .1, r2 .2) and up. Sync groups across interfaces need it.
    pub fn add_lan(&self, bridge: &str, iface: &str, prefix: &str) -> anyhow::Result<()> {
        self.switch.ip(&[
            "link",
            "add",
            bridge,
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        self.switch
            .sysctl(&format!("net.ipv6.conf.{bridge}.disable_ipv6"), "1")?;
        self.switch.ip(&["link", "set", bridge, "up"])?;
        for (host, last) in [(&self.r1, 1), (&self.r2, 2)] {
            let port = format!("{}x{}", host.port, bridge.trim_start_matches("br"));
            veth(&host.netns, iface, &self.switch, &port)?;
            self.switch.ip(&["link", "set", &port, "master", bridge])?;
            self.switch.ip(&[
                "link",
                "set",
                "dev",
                &port,
                "type",
                "bridge_slave",
                "learning",
                "off",
            ])?;
            host.netns.addr(iface, &format!("{prefix}.{last}/24"))?;
        }
        Ok(())
    }

    pub fn routers(&self) -> [&Host; 2] {
        [&self.r1, &self.r2]
    }

    pub fn switch(&self) -> &Netns {
        &self.switch
    }

    /// Takes `router`'s link down on the router's side (`ip link set eth0 down` in its
    /// namespace): its daemon sees the interface go down, the switch port loses carrier.
    pub fn link_down(&self, router: &Host) -> anyhow::Result<()> {
        router.netns.ip(&["link", "set", IFACE, "down"])?;
        Ok(())
    }

    /// Brings `router`'s link back. The kernel flushes IPv6 addresses on link down
    /// (`keep_addr_on_down` is 0 by default); the host's own static addresses are added back as
    /// an administrator's network configuration would, VIPs are left to the daemon.
    pub fn link_up(&self, router: &Host) -> anyhow::Result<()> {
        router.netns.ip(&["link", "set", IFACE, "up"])?;
        let present = router.addresses()?;
        for cidr in router.static_addresses() {
            let address: IpAddr = cidr
                .split('/')
                .next()
                .and_then(|a| a.parse().ok())
                .context("static address")?;
            if !present.contains(&address) {
                router.netns.addr(IFACE, &cidr)?;
            }
        }
        Ok(())
    }

    /// Deletes `router`'s interface (the veth pair goes with it) and creates it again under the
    /// same name, on the same switch port, with its static addresses: what re-creating a VLAN or
    /// a tunnel interface does to a daemon using it. The new interface has a new index and MAC.
    pub fn replug(&self, router: &Host) -> anyhow::Result<()> {
        router.netns.ip(&["link", "del", IFACE])?;
        veth(&router.netns, IFACE, &self.switch, router.port)?;
        self.switch
            .ip(&["link", "set", router.port, "master", "br0"])?;
        self.switch.ip(&[
            "link",
            "set",
            "dev",
            router.port,
            "type",
            "bridge_slave",
            "learning",
            "off",
        ])?;
        for cidr in router.static_addresses() {
            router.netns.addr(IFACE, &cidr)?;
        }
        Ok(())
    }

    /// The routers (by name) that have `address` on their interface now.
    pub fn holders(&self, address: IpAddr) -> anyhow::Result<Vec<&'static str>> {
        let mut holders = Vec::new();
        for router in self.routers() {
            if router.holds(address)? {
                holders.push(router.name);
            }
        }
        Ok(holders)
    }

    /// Waits until exactly the routers named in `expected` hold `address`; returns how long it
    /// took, or fails with the holders last seen. `check` runs on every poll and can end the
    /// wait early with an error (a router process that died, for instance).
    pub fn wait_for_holders(
        &self,
        address: IpAddr,
        expected: &[&str],
        timeout: Duration,
        check: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Duration> {
        self.wait_until(address, timeout, check, |holders| holders == expected)
            .with_context(|| format!("expected {expected:?}"))
    }

    /// Waits until `router` holds `address`, whoever else does (a router killed with -9
    /// keeps its VIPs: nothing is left to remove them).
    pub fn wait_for_holder(
        &self,
        address: IpAddr,
        router: &str,
        timeout: Duration,
        check: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Duration> {
        self.wait_until(address, timeout, check, |holders| holders.contains(&router))
            .with_context(|| format!("expected {router} among them"))
    }

    fn wait_until(
        &self,
        address: IpAddr,
        timeout: Duration,
        mut check: impl FnMut() -> anyhow::Result<()>,
        mut done: impl FnMut(&[&str]) -> bool,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            let holders = self.holders(address)?;
            if done(&holders) {
                return Ok(start.elapsed());
            }
            check()?;
            if start.elapsed() > timeout {
                bail!("{address} is held by {holders:?} after {timeout:?}");
            }
            // Not faster: every poll runs `ip` twice, and the CPU it takes delays the daemons
            // being timed (the timings come from the capture, not from this loop).
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn wait_for_link_local(host: &Host) -> anyhow::Result<Ipv6Addr> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(IpAddr::V6(address)) = host
            .addresses()?
            .into_iter()
            .find(|a| matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local()))
        {
            return Ok(address);
        }
        if Instant::now() > deadline {
            bail!("{} has no link-local address after 5 s", host.name);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
