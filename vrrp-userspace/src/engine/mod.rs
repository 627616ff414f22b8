//! The VRRP protocol engine: pure, deterministic, driven by events and a caller-supplied clock.
//! No tokio, no sockets, no `Instant::now()`: the IO shell turns the world into [`Event`]s and
//! [`Action`]s into effects, and tests replay events on a fake clock.

mod config;
mod events;
mod instance;
mod journal;
pub mod replay;
mod router;
mod serde_formats;
mod time;
pub mod timers;
mod tracking;

pub use config::{
    Announced, Destination, Flavor, GarpConfig, InitialState, InstanceConfig, InstanceConfigError,
    InstanceSettings, LinkAddr, MacAddr, TrackerConfig, TrackerId, TrackerKind,
};
pub use events::{Action, AdvertPacket, AnnounceFrame, Anomaly, Event, Reason, State, Transition};
pub use instance::{Instance, ReceivePolicy};
pub use journal::{Input, JournalEntry};
pub use router::{InstanceId, RoutedAction, Router, RouterError, SyncGroupConfig};
pub use time::Timestamp;
pub use tracking::{Tracker, effective_priority};
