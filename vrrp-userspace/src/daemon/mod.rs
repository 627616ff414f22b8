//! The daemon: the IO shell around the pure engine. One file per edge; [`resolve`] turns the
//! configuration and the host into what the runtime needs.

pub mod host;
pub mod resolve;
mod tracking;
pub mod vmac;
