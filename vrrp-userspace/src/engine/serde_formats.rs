//! How engine values look in configuration dumps and golden files: durations as milliseconds
//! (decimals allowed), frames as hex strings.

/// `Duration` as milliseconds.
pub mod millis {
    use std::time::Duration;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_nanos() as f64 / 1e6)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(ms / 1e3).map_err(D::Error::custom)
    }
}

/// `Option<Duration>` as milliseconds or null.
pub mod millis_option {
    use std::time::Duration;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_f64(value.as_nanos() as f64 / 1e6),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(deserializer)?
            .map(|ms| Duration::try_from_secs_f64(ms / 1e3).map_err(D::Error::custom))
            .transpose()
    }
}

/// Announcements as hex strings (with `@ifindex` when not 0, the goldens' interface).
pub fn announce_frames<S: serde::Serializer>(
    frames: &[super::events::AnnounceFrame],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(frames.iter().map(|f| match f.ifindex {
        0 => hex(&f.frame),
        ifindex => format!("{}@{ifindex}", hex(&f.frame)),
    }))
}

/// Advert packets: a multicast frame as a hex string, a unicast packet as `{"to", "ip"}`.
pub fn advert_packets<S: serde::Serializer>(
    packets: &[super::events::AdvertPacket],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use super::events::AdvertPacket;
    serializer.collect_seq(packets.iter().map(|packet| match packet {
        AdvertPacket::Multicast { frame } => serde_json::Value::String(hex(frame)),
        AdvertPacket::Unicast { peer, packet } => {
            serde_json::json!({ "to": peer, "ip": hex(packet) })
        }
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
