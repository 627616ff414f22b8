//! What goes into the engine (events) and what comes out (actions). Actions carry everything
//! the IO shell needs, frames included, so the shell only performs them; instances, trackers
//! and interfaces are named by ids the daemon's resolve step hands out.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::config::TrackerId;
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
        tracker: TrackerId,
        up: bool,
    },
    /// A tracked file now holds this number (keepalived's `track_file`: 0 when the file is
    /// missing, deleted or holds no number). Multiplied by the weight, not just up or down.
    TrackerValue {
        tracker: TrackerId,
        value: i64,
    },
    /// A tracked script finished.
    ScriptResult {
        tracker: TrackerId,
        success: bool,
    },
    /// The interface's address that adverts come from changed (`None`: it has none left).
    /// Only for instances whose source is not configured.
    SourceAddress {
        addr: Option<IpAddr>,
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
    /// No advert for Master_Down_Interval (or Skew_Time after a priority-0 advert).
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
    /// The interface has no address of the instance's family to send adverts from.
    NoSourceAddress,
    /// A weight-0 tracker failed.
    TrackerFailed {
        tracker: TrackerId,
    },
    /// A weight-0 tracked script has not reported yet: keepalived holds the instance in FAULT
    /// until its first result, without running notify scripts.
    TrackerPending {
        tracker: TrackerId,
    },
    /// The fault is over.
    Recovered,
    /// A member of the sync group moved.
    SyncGroup {
        group: String,
    },
    Shutdown,
}

/// A state change, as [`super::Instance::handle`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Reason,
}

/// One advert packet ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdvertPacket {
    /// A whole Ethernet frame to the multicast group, sent on the link as is.
    Multicast { frame: Bytes },
    /// An IP packet (header included) to one unicast peer: the kernel routes it and resolves
    /// the peer's MAC address, as for any unicast packet.
    Unicast { peer: IpAddr, packet: Bytes },
}

/// A gratuitous ARP or unsolicited NA and the interface it goes out of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceFrame {
    pub ifindex: u32,
    pub frame: Bytes,
}

/// Something worth a log line that changes nothing (keepalived logs these too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "anomaly", rename_all = "snake_case")]
pub enum Anomaly {
    /// A master heard an advert with its own priority from its own address: its own advert
    /// echoed (its address in the peer list, a hairpin bridge) or an address conflict.
    OwnAdvertEchoed { priority: Priority },
    /// Two routers claim to own the addresses (priority 255); keepalived lowers its own
    /// priority to 254 so that one of them yields.
    OwnerConflict { other: IpAddr },
}

/// Something the IO shell must do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Send these adverts (the multicast group, or one per unicast peer).
    SendAdvert {
        priority: Priority,
        #[serde(serialize_with = "super::serde_formats::advert_packets")]
        packets: Arc<[AdvertPacket]>,
    },
    /// Add the instance's virtual addresses, routes and rules.
    AddAddresses,
    /// Remove them.
    RemoveAddresses,
    /// Send gratuitous ARPs / unsolicited NAs: every frame `repeat` times, `interval` apart.
    Announce {
        #[serde(serialize_with = "super::serde_formats::announce_frames")]
        frames: Arc<[AnnounceFrame]>,
        repeat: u32,
        #[serde(with = "super::serde_formats::millis")]
        interval: Duration,
    },
    /// Stop any announcement burst still being sent: the instance is no longer master.
    CancelAnnouncements,
    /// Log it and run the notify scripts / FIFO lines for `to`.
    StateChanged {
        from: State,
        to: State,
        priority: Priority,
        reason: Reason,
    },
    /// keepalived's `notify_master_rx_lower_pri`: a master heard a lower-priority master.
    MasterRxLowerPriority { from: IpAddr, priority: Priority },
    /// The effective priority changed (FIFO `MASTER_PRIORITY` / `BACKUP_PRIORITY` lines).
    PriorityChanged { state: State, priority: Priority },
    /// A sync group as a whole changed state (keepalived's vrrp_sync_master/backup/fault and
    /// the group's state at startup and shutdown): run the group's notify scripts and FIFO
    /// line. Routed to the member that caused it (the first member at startup and shutdown),
    /// after that member's and the other members' own actions.
    SyncGroupState { group: String, state: State },
    /// Log it; nothing else to do.
    Anomaly(Anomaly),
}
