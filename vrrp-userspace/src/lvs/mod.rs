//! The LVS side of keepalived (`virtual_server`) without IPVS, pure: the services the
//! configuration asks for ([`settings`]), which real servers each forwards to as checkers
//! report ([`pool`]), and the scheduling tables the XDP load balancer reads ([`tables`]).
//! A reload keeps what [`diff`] recognises. The daemon's IO shell is `daemon::lvs`; the kernel half `dataplane::lb`.

pub mod diff;
pub mod pool;
pub mod settings;
pub mod tables;
