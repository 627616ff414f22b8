//! A reader for classic pcap files (what `tcpdump -w` writes): both byte orders, microsecond
//! and nanosecond timestamps, Ethernet and Linux cooked (SLL, SLL2) link types.

use std::path::{Path, PathBuf};
use std::time::Duration;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_LINUX_SLL2: u32 = 276;

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a pcap file (magic {magic:#010x}); pcapng is not supported, convert with `tcpdump -r F -w out.pcap`", path.display())]
    Magic { path: PathBuf, magic: u32 },
    #[error("{}: link type {linktype} is not supported (Ethernet, Linux cooked SLL/SLL2 are)", path.display())]
    LinkType { path: PathBuf, linktype: u32 },
    #[error("{}: record {index} at byte {offset} is cut short", path.display())]
    Truncated {
        path: PathBuf,
        index: usize,
        offset: usize,
    },
}

/// One captured frame, rewritten as an Ethernet frame.
#[derive(Clone, Debug)]
pub struct Packet {
    /// Time since the Unix epoch as recorded in the capture.
    pub timestamp: Duration,
    pub ethernet: Vec<u8>,
}

/// Reads every packet of a capture.
pub fn read_file(path: &Path) -> Result<Vec<Packet>, PcapError> {
    let bytes = std::fs::read(path).map_err(|source| PcapError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes).map_err(|e| e.at(path))
}

/// A parse failure before the path is known.
#[derive(Debug)]
pub enum ParseError {
    Magic(u32),
    LinkType(u32),
    Truncated { index: usize, offset: usize },
}

impl ParseError {
    fn at(self, path: &Path) -> PcapError {
        let path = path.to_owned();
        match self {
            Self::Magic(magic) => PcapError::Magic { path, magic },
            Self::LinkType(linktype) => PcapError::LinkType { path, linktype },
            Self::Truncated { index, offset } => PcapError::Truncated {
                path,
                index,
                offset,
            },
        }
    }
}

pub fn parse(bytes: &[u8]) -> Result<Vec<Packet>, ParseError> {
    let header = bytes.get(..24).ok_or(ParseError::Truncated {
        index: 0,
        offset: 0,
    })?;
    let magic_le = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let magic_be = u32::from_be_bytes(header[..4].try_into().expect("4 bytes"));
    let (little_endian, nanos) = match (magic_le, magic_be) {
        (MAGIC_MICROS, _) => (true, false),
        (MAGIC_NANOS, _) => (true, true),
        (_, MAGIC_MICROS) => (false, false),
        (_, MAGIC_NANOS) => (false, true),
        _ => return Err(ParseError::Magic(magic_be)),
    };
    let read_u32 = |b: &[u8]| {
        let b: [u8; 4] = b.try_into().expect("4 bytes");
        if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let linktype = read_u32(&header[20..24]) & 0x0fff_ffff;
    if !matches!(
        linktype,
        LINKTYPE_ETHERNET | LINKTYPE_LINUX_SLL | LINKTYPE_LINUX_SLL2
    ) {
        return Err(ParseError::LinkType(linktype));
    }

    let mut packets = Vec::new();
    let mut offset = 24;
    while offset < bytes.len() {
        let index = packets.len();
        let record = bytes
            .get(offset..offset + 16)
            .ok_or(ParseError::Truncated { index, offset })?;
        let seconds = read_u32(&record[0..4]) as u64;
        let fraction = read_u32(&record[4..8]) as u64;
        let captured = read_u32(&record[8..12]) as usize;
        let data = bytes
            .get(offset + 16..offset + 16 + captured)
            .ok_or(ParseError::Truncated { index, offset })?;
        offset += 16 + captured;
        let timestamp = Duration::from_secs(seconds)
            + if nanos {
                Duration::from_nanos(fraction)
            } else {
                Duration::from_micros(fraction)
            };
        if let Some(ethernet) = to_ethernet(linktype, data) {
            packets.push(Packet {
                timestamp,
                ethernet,
            });
        }
    }
    Ok(packets)
}

/// Cooked captures (`tcpdump -i any`) carry the protocol but no Ethernet header: make one.
fn to_ethernet(linktype: u32, data: &[u8]) -> Option<Vec<u8>> {
    let (protocol, payload) = match linktype {
        LINKTYPE_ETHERNET => return Some(data.to_vec()),
        // SLL: packet type, ARPHRD, address length, 8 address bytes, protocol (RFC-less, see
        // tcpdump's linktypes page).
        LINKTYPE_LINUX_SLL => (data.get(14..16)?, data.get(16..)?),
        // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 bytes.
        LINKTYPE_LINUX_SLL2 => (data.get(0..2)?, data.get(20..)?),
        _ => return None,
    };
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&[0; 12]);
    frame.extend_from_slice(protocol);
    frame.extend_from_slice(payload);
    Some(frame)
}
