//! Packet capture on a host's interface (tcpdump, nanosecond timestamps, a pcap file in a
//! temporary directory) and its decoding by tshark into the frames a failover is judged on:
//! VRRP adverts, ARP, ICMPv6 neighbour adverts, and whatever tshark finds wrong with them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::{Netns, Process, TempDir, run};

/// What is captured: VRRP (v4 and v6), ARP, and ICMPv6 neighbour adverts (type 136; they
/// carry no extension headers). Pings and the rest of the chatter are left out.
pub const FILTER: &str = "ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)";

/// Nanoseconds since the Unix epoch: the clock of tcpdump's timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970");
        Self(u64::try_from(since_epoch.as_nanos()).expect("before 2554"))
    }

    /// Parses tshark's `frame.time_epoch` (`1795697670.643127783`) without going through a
    /// float, which would keep only about a quarter of a microsecond.
    pub fn parse(text: &str) -> Option<Self> {
        let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
        let seconds: u64 = seconds.parse().ok()?;
        if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos: u64 = format!("{fraction:0<9}").parse().ok()?;
        Some(Self(seconds * 1_000_000_000 + nanos))
    }

    /// `self - earlier` in milliseconds, negative when `earlier` is later.
    pub fn ms_since(self, earlier: Self) -> f64 {
        (self.0 as i128 - earlier.0 as i128) as f64 / 1e6
    }
}

/// tcpdump running in a namespace.
pub struct Capture {
    process: Process,
    dir: TempDir,
}

impl Capture {
    /// Starts tcpdump on `iface` in `netns` and waits until it is capturing.
    pub fn start(netns: &Netns, iface: &str) -> anyhow::Result<Self> {
        let dir = TempDir::new("capture")?;
        let log = std::fs::File::create(dir.path().join("tcpdump.log"))?;
        let process = Process::spawn(
            "tcpdump",
            netns
                .exec("tcpdump")
                // -Z root: Debian's tcpdump would drop to the tcpdump user, who cannot write
                // into the test's directory.
                .args(["-Z", "root", "-i", iface, "-U", "-n"])
                // Every packet handed over at once: with the default buffer timeout, packets
                // still in the ring when tcpdump stops are counted but never written.
                .args(["--immediate-mode", "--time-stamp-precision=nano"])
                .arg("-w")
                .arg(dir.path().join("capture.pcap"))
                .arg(FILTER)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        )?;
        let mut capture = Self { process, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !capture.log().contains("listening on") {
            if !capture.process.is_running() || Instant::now() > deadline {
                bail!("tcpdump did not start: {}", capture.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(capture)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tcpdump.log")).unwrap_or_default()
    }

    /// Stops tcpdump (it writes every packet at once with -U) and returns the capture.
    pub fn stop(mut self) -> anyhow::Result<Pcap> {
        self.process.signal(libc::SIGINT);
        self.process.wait_timeout(Duration::from_secs(5))?;
        let log = self.log();
        let kernel_drops = log
            .lines()
            .find_map(|line| line.strip_suffix(" packets dropped by kernel"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let path = self.dir.path().join("capture.pcap");
        Ok(Pcap {
            _dir: self.dir,
            path,
            kernel_drops,
        })
    }
}

/// A finished capture; the file goes with it unless saved.
pub struct Pcap {
    _dir: TempDir,
    path: PathBuf,
    /// Packets the kernel dropped before tcpdump read them (tcpdump's own count).
    pub kernel_drops: u64,
}

impl Pcap {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies the capture to `to` (for a failed test: open it in Wireshark).
    pub fn save(&self, to: &Path) -> anyhow::Result<()> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&self.path, to)?;
        Ok(())
    }

    /// Every frame as tshark decodes it.
    pub fn frames(&self) -> anyhow::Result<Vec<Frame>> {
        read_frames(&self.path)
    }
}

/// A VRRP advert as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub source: IpAddr,
    pub version: u8,
    /// 1 = advertisement, the only type there is.
    pub kind: u8,
    pub vrid: u8,
    pub priority: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Advert(Advert),
    Arp {
        opcode: u16,
        sender: Ipv4Addr,
        target: Ipv4Addr,
    },
    NeighborAdvert {
        target: Ipv6Addr,
        override_flag: bool,
    },
    Other,
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub number: u64,
    pub time: Timestamp,
    /// Ethernet source, lower case with colons.
    pub mac: String,
    pub kind: FrameKind,
    /// What makes the frame wrong: tshark's malformed-packet marker, error-level expert info
    /// (bad checksums are errors), a VRRP/ICMPv6/IPv4 checksum status of "bad".
    pub problems: Vec<String>,
}

impl Frame {
    pub fn advert(&self) -> Option<&Advert> {
        match &self.kind {
            FrameKind::Advert(advert) => Some(advert),
            _ => None,
        }
    }

    /// A gratuitous ARP (request or reply whose sender and target are both `address`) or an
    /// unsolicited neighbour advert with the Override flag for `address`.
    pub fn announces(&self, address: IpAddr) -> bool {
        match (&self.kind, address) {
            (FrameKind::Arp { sender, target, .. }, IpAddr::V4(address)) => {
                *sender == address && *target == address
            }
            (
                FrameKind::NeighborAdvert {
                    target,
                    override_flag: true,
                },
                IpAddr::V6(address),
            ) => *target == address,
            _ => false,
        }
    }
}

/// tshark's fields for every frame; the IPv4 header checksum is only checked when asked.
const FIELDS: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "eth.src",
    "ip.src",
    "ipv6.src",
    "vrrp.version",
    "vrrp.type",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.checksum.status",
    "arp.opcode",
    "arp.src.proto_ipv4",
    "arp.dst.proto_ipv4",
    "icmpv6.type",
    "icmpv6.nd.na.target_address",
    "icmpv6.nd.na.flag.o",
    "icmpv6.checksum.status",
    "ip.checksum.status",
    "_ws.malformed",
    "_ws.expert",
    "_ws.expert.severity",
];

/// Decodes a pcap file with tshark.
pub fn read_frames(pcap: &Path) -> anyhow::Result<Vec<Frame>> {
    let mut command = Command::new("tshark");
    command
        .arg("-r")
        .arg(pcap)
        .args(["-n", "-o", "ip.check_checksum:TRUE", "-T", "json"]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let output = run(&mut command)?;
    let packets: Vec<Value> = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("tshark's JSON for {}", pcap.display()))?;
    packets
        .iter()
        .map(|packet| frame_from_json(&packet["_source"]["layers"]))
        .collect()
}

/// The checksum status tshark reports for a bad checksum (PROTO_CHECKSUM_E_BAD); 4 is
/// "illegal" (a checksum field that cannot be right).
const CHECKSUM_BAD: &[&str] = &["0", "4"];

/// Expert info severities at or above this are problems (PI_ERROR; warnings such as
/// "Duplicate IP address configured", which every failover's GARP causes, are not).
const EXPERT_ERROR: u64 = 0x0080_0000;

fn frame_from_json(layers: &Value) -> anyhow::Result<Frame> {
    let first = |field: &str| layers[field][0].as_str();
    let all = |field: &str| -> Vec<&str> {
        layers[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    let number: u64 = first("frame.number").context("frame.number")?.parse()?;
    let time = first("frame.time_epoch")
        .and_then(Timestamp::parse)
        .with_context(|| format!("frame {number} has no timestamp"))?;
    let parse_u8 = |field: &str| -> anyhow::Result<u8> {
        first(field)
            .with_context(|| format!("frame {number} has no {field}"))?
            .parse()
            .with_context(|| format!("frame {number}: {field}"))
    };
    let kind = if layers.get("vrrp.version").is_some() {
        let source = first("ip.src")
            .or_else(|| first("ipv6.src"))
            .with_context(|| format!("frame {number}: VRRP without an IP source"))?
            .parse()?;
        FrameKind::Advert(Advert {
            source,
            version: parse_u8("vrrp.version")?,
            kind: parse_u8("vrrp.type")?,
            vrid: parse_u8("vrrp.virt_rtr_id")?,
            priority: parse_u8("vrrp.prio")?,
        })
    } else if let (Some(opcode), Some(sender), Some(target)) = (
        first("arp.opcode"),
        first("arp.src.proto_ipv4"),
        first("arp.dst.proto_ipv4"),
    ) {
        FrameKind::Arp {
            opcode: opcode.parse()?,
            sender: sender.parse()?,
            target: target.parse()?,
        }
    } else if first("icmpv6.type") == Some("136") {
        FrameKind::NeighborAdvert {
            target: first("icmpv6.nd.na.target_address")
                .with_context(|| format!("frame {number}: NA without a target"))?
                .parse()?,
            override_flag: matches!(first("icmpv6.nd.na.flag.o"), Some("1" | "True")),
        }
    } else {
        FrameKind::Other
    };

    let mut problems = Vec::new();
    if layers.get("_ws.malformed").is_some() {
        problems.push("tshark: malformed packet".to_owned());
    }
    for field in [
        "vrrp.checksum.status",
        "icmpv6.checksum.status",
        "ip.checksum.status",
    ] {
        if all(field)
            .iter()
            .any(|status| CHECKSUM_BAD.contains(status))
        {
            problems.push(format!("{field}: bad"));
        }
    }
    let severities = all("_ws.expert.severity");
    for (i, message) in all("_ws.expert").into_iter().enumerate() {
        let severity: u64 = severities.get(i).and_then(|s| s.parse().ok()).unwrap_or(0);
        if severity >= EXPERT_ERROR {
            problems.push(message.to_owned());
        }
    }
    Ok(Frame {
        number,
        time,
        mac: first("eth.src").unwrap_or_default().to_ascii_lowercase(),
        kind,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_keep_nanoseconds() {
        assert_eq!(
            Timestamp::parse("1795697670.643127783"),
            Some(Timestamp(1_795_697_670_643_127_783))
        );
        assert_eq!(
            Timestamp::parse("1795697670.5"),
            Some(Timestamp(1_795_697_670_500_000_000))
        );
        assert_eq!(Timestamp::parse("12"), Some(Timestamp(12_000_000_000)));
        assert_eq!(Timestamp::parse("1.1234567890"), None);
        assert_eq!(Timestamp(2_500_000).ms_since(Timestamp(1_000_000)), 1.5);
        assert_eq!(Timestamp(1_000_000).ms_since(Timestamp(2_500_000)), -1.5);
    }

    #[test]
    fn decodes_an_advert_a_garp_and_an_unsolicited_na() {
        let advert = frame_from_json(&json!({
            "frame.number": ["1"], "frame.time_epoch": ["1795697670.643127783"],
            "eth.src": ["9A:ba:ec:d6:42:e3"], "ip.src": ["192.0.2.1"], "vrrp.version": ["3"],
            "vrrp.type": ["1"], "vrrp.virt_rtr_id": ["51"], "vrrp.prio": ["150"],
            "vrrp.checksum.status": ["1"], "ip.checksum.status": ["1"]
        }))
        .unwrap();
        assert_eq!(advert.mac, "9a:ba:ec:d6:42:e3");
        assert_eq!(
            advert.advert(),
            Some(&Advert {
                source: "192.0.2.1".parse().unwrap(),
                version: 3,
                kind: 1,
                vrid: 51,
                priority: 150
            })
        );
        assert!(advert.problems.is_empty());

        let garp = frame_from_json(&json!({
            "frame.number": ["2"], "frame.time_epoch": ["1795697670.644511819"],
            "eth.src": ["de:dc:ae:63:99:42"], "arp.opcode": ["1"],
            "arp.src.proto_ipv4": ["192.0.2.100"], "arp.dst.proto_ipv4": ["192.0.2.100"],
            "_ws.expert": ["Expert Info (Warning/Sequence): Duplicate IP address configured (192.0.2.100)"],
            "_ws.expert.severity": ["6291456"]
        }))
        .unwrap();
        assert!(garp.announces("192.0.2.100".parse().unwrap()));
        assert!(!garp.announces("192.0.2.1".parse().unwrap()));
        assert!(garp.problems.is_empty(), "a warning is not a problem");

        let na = frame_from_json(&json!({
            "frame.number": ["7"], "frame.time_epoch": ["1795697670.651388140"],
            "eth.src": ["9a:ba:ec:d6:42:e3"], "ipv6.src": ["2001:db8::100"],
            "icmpv6.type": ["136"], "icmpv6.nd.na.target_address": ["2001:db8::100"],
            "icmpv6.nd.na.flag.o": ["1"], "icmpv6.checksum.status": ["1"]
        }))
        .unwrap();
        assert!(na.announces("2001:db8::100".parse().unwrap()));
    }

    #[test]
    fn malformed_frames_and_bad_checksums_are_problems() {
        let frame = frame_from_json(&json!({
            "frame.number": ["3"], "frame.time_epoch": ["1.0"], "eth.src": ["02:00:00:00:00:01"],
            "ip.src": ["192.0.2.1"], "vrrp.version": ["3"], "vrrp.type": ["1"],
            "vrrp.virt_rtr_id": ["51"], "vrrp.prio": ["150"], "vrrp.checksum.status": ["0"],
            "_ws.malformed": [""],
            "_ws.expert": ["Expert Info (Warning/Sequence): x", "Expert Info (Error/Checksum): Bad checksum"],
            "_ws.expert.severity": ["6291456", "8388608"]
        }))
        .unwrap();
        assert_eq!(
            frame.problems,
            vec![
                "tshark: malformed packet".to_owned(),
                "vrrp.checksum.status: bad".to_owned(),
                "Expert Info (Error/Checksum): Bad checksum".to_owned(),
            ]
        );
    }
}
