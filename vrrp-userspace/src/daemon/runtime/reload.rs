//! Reloading the configuration (SIGHUP, `xvrrpd reload`).

use super::Runtime;
use crate::daemon::control::Reply;

impl Runtime {
    pub(super) async fn reload(&mut self) -> Reply {
        Reply::Failed {
            message: "reloading the configuration is not implemented yet; nothing changed".into(),
        }
    }
}
