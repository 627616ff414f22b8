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

/// Frames as hex strings.
pub mod hex_frames {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(frames: &[Vec<u8>], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            frames
                .iter()
                .map(|frame| frame.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Vec<u8>>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .iter()
            .map(|text| {
                (0..text.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("?"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(D::Error::custom)
            })
            .collect()
    }
}
