//! What goes into the engine (events) and what comes out (actions). Actions carry everything
//! the IO shell needs, frames included, so the shell only performs them.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::VirtualAddress;
use crate::protocol::Priority;

/// RFC 5798 section 6.4 states, plus keepalived's FAULT and a stopped instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            Self::Initialize => "INIT",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
            Self::Fault => "FAULT",
            Self::Stopped => "STOP",
        }
    }
}

/// Something that happened to an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The daemon started the instance.
    Startup,
    /// A valid advert for this instance (already checked by the XDP program or the decoder).
    Advert {
        src: IpAddr,
        priority: Priority,
        #[serde(with = "super::serde_formats::millis")]
        interval: Duration,
    },
    /// A deadline from [`super::Instance::next_deadline`] was reached.
    Timer,
    /// The instance's own interface went up or down (or lost its source address).
    InterfaceUp,
    InterfaceDown,
    /// A tracked interface, file or process went up or down.
    Tracker {
        name: String,
        up: bool,
    },
    /// A tracked script finished.
    ScriptResult {
        name: String,
        success: bool,
    },
    /// The daemon is stopping (SIGTERM).
    Shutdown,
}

/// Why a state changed, for the log line and the notify scripts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// Startup as address owner (priority 255) or into BACKUP.
    Startup,
    /// No advert for Master_Down_Interval.
    MasterDown {
        #[serde(with = "super::serde_formats::millis")]
        silent_for: Duration,
    },
    /// An advert with a higher priority (or the same priority from a higher address).
    HigherPriority {
        master: IpAddr,
        priority: Priority,
    },
    InterfaceDown,
    /// A weight-0 tracker failed.
    TrackerFailed {
        name: String,
    },
    /// The fault is over.
    Recovered,
    /// A member of the sync group moved.
    SyncGroup {
        group: String,
    },
    Shutdown,
}

/// Something the IO shell must do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Send these advert frames (one per destination: the multicast group or each unicast peer).
    SendAdvert {
        iface: String,
        priority: Priority,
        #[serde(with = "super::serde_formats::hex_frames")]
        frames: Vec<Vec<u8>>,
    },
    AddAddresses {
        iface: String,
        addresses: Vec<VirtualAddress>,
    },
    RemoveAddresses {
        iface: String,
        addresses: Vec<VirtualAddress>,
    },
    /// Send gratuitous ARPs / unsolicited NAs: every frame `repeat` times, `interval` apart.
    Announce {
        iface: String,
        #[serde(with = "super::serde_formats::hex_frames")]
        frames: Vec<Vec<u8>>,
        repeat: u32,
        #[serde(with = "super::serde_formats::millis")]
        interval: Duration,
    },
    /// Log it and run the notify scripts / FIFO lines for `to`.
    StateChanged {
        instance: String,
        from: State,
        to: State,
        priority: Priority,
        reason: Reason,
    },
    /// keepalived's `notify_master_rx_lower_pri`: a master heard a lower-priority master.
    MasterRxLowerPriority {
        instance: String,
        from: IpAddr,
        priority: Priority,
    },
    /// The effective priority changed (FIFO `MASTER_PRIORITY` / `BACKUP_PRIORITY` lines).
    PriorityChanged {
        instance: String,
        state: State,
        priority: Priority,
    },
}
