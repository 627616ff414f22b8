//! The flight recorder's view of the engine: every input the router was given, with its time,
//! as plain data. The daemon writes it out as JSON lines; `xvrrpd replay` feeds it back to a
//! router built from the same settings and gets the same actions (the engine is deterministic).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::{InstanceSettings, TrackerId};
use super::events::Event;
use super::router::{InstanceId, SyncGroupConfig};
use super::time::Timestamp;

/// One call into the router.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// [`super::Router::handle`].
    Event { instance: InstanceId, event: Event },
    /// [`super::Router::broadcast`].
    Broadcast(Event),
    /// [`super::Router::tracker_event`].
    Tracker(Event),
    /// [`super::Router::handle_timers`].
    Timers,
    /// [`super::Router::reconfigure`] (a reload).
    Reconfigure {
        instances: Vec<InstanceSettings>,
        sync_groups: Vec<SyncGroupConfig>,
        carry: Vec<Option<InstanceId>>,
        trackers: BTreeMap<TrackerId, TrackerId>,
    },
}

/// An input and when it was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: Timestamp,
    pub input: Input,
}
