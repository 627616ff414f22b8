//! Choosing a destination for a new flow: its persistence template first, then the service's
//! scheduler. Userspace keeps each service's slots (its table) up to date: `rr`/`wrr` walk them
//! with a per-CPU cursor, `sh`/`mh` index them by the client's hash, `lc`/`wlc` scan them for
//! the fewest connections. Only destinations with a weight above 0 are in the slots; one that
//! left since the table was written is skipped.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_loop;
use vrrp_common::{
    DEST_LIVE, LB_REGION_SLOTS, LbDest, LbPersist, LbPersistKey, LbService, SCHED_LC, SCHED_MH,
    SCHED_SH, SCHED_WLC, SVC_HASH_PORT, SVC_PERSISTENT, lb_flow_hash,
};

use crate::packet::Flow;
use crate::{cursor, dest, dest_conns, live_dest, set_template, slot, template};

/// The client as a persistence template knows it: its address masked by
/// `persistence_granularity` (all ones without one).
#[inline(always)]
pub fn template_client(service: &LbService, flow: &Flow) -> [u8; 16] {
    let mut client = flow.src;
    for (byte, mask) in client.iter_mut().zip(service.granularity.iter()) {
        *byte &= *mask;
    }
    client
}

/// The destination of a new flow: (id, entry).
#[inline(always)]
pub fn choose(service: &LbService, flow: &Flow, now: u64) -> Option<(u32, *const LbDest)> {
    if service.flags & SVC_PERSISTENT == 0 {
        return schedule(service, flow);
    }
    let client = template_client(service, flow);
    let key = LbPersistKey {
        svc: service.id,
        family: flow.family,
        _pad: [0; 3],
        client,
    };
    let timeout_ns = service.persist_timeout_s as u64 * 1_000_000_000;
    if let Some(template) = template(&key) {
        let template = unsafe { &mut *template };
        // A template whose server went to weight 0 sends no new connection there (IPVS's
        // expire_quiescent_template): the client is scheduled again.
        if now.wrapping_sub(template.last_used_ns) < timeout_ns
            && let Some(dest) = live_dest(template.dest, template.generation)
            && unsafe { (*dest).weight } > 0
        {
            template.last_used_ns = now;
            return Some((template.dest, dest));
        }
    }
    let (id, dest) = schedule(service, flow)?;
    set_template(
        &key,
        &LbPersist {
            dest: id,
            generation: unsafe { (*dest).generation },
            last_used_ns: now,
        },
    );
    Some((id, dest))
}

#[inline(always)]
fn schedule(service: &LbService, flow: &Flow) -> Option<(u32, *const LbDest)> {
    let count = service.slot_count;
    if count == 0 || count > LB_REGION_SLOTS {
        return None;
    }
    match service.sched {
        SCHED_LC | SCHED_WLC => least_connections(service),
        SCHED_SH | SCHED_MH => {
            let port = (service.flags & SVC_HASH_PORT != 0).then_some(flow.sport);
            pick(service, lb_flow_hash(&flow.src, port) % count)
        }
        // rr and wrr: the table is the (weighted, interleaved) sequence.
        _ => {
            let cursor = cursor(service.id)?;
            let index = unsafe { *cursor };
            unsafe { *cursor = index.wrapping_add(1) };
            pick(service, index % count)
        }
    }
}

/// The destination in slot `index`, or in one of the next three when it left or went to
/// weight 0 since userspace wrote the table (as `sh-fallback` does).
#[inline(always)]
fn pick(service: &LbService, index: u32) -> Option<(u32, *const LbDest)> {
    for probe in 0..4u32 {
        let at = (index + probe) % service.slot_count;
        let id = slot(service.slot_base + at)?;
        if let Some(d) = dest(id) {
            let entry = unsafe { &*d };
            if entry.flags & DEST_LIVE != 0 && entry.weight > 0 {
                return Some((id, d));
            }
        }
    }
    None
}

/// What the scan of `lc`/`wlc` carries from slot to slot.
#[repr(C)]
struct Scan {
    base: u32,
    count: u32,
    weighted: u32,
    found: u32,
    best: u32,
    _pad: u32,
    best_overhead: u64,
    best_weight: u64,
}

/// IPVS's overhead of a destination: active connections weigh 256 times an inactive one.
extern "C" fn scan_slot(index: u64, scan: *mut c_void) -> i64 {
    let scan = unsafe { &mut *scan.cast::<Scan>() };
    if index as u32 >= scan.count {
        return 1;
    }
    let Some(id) = slot(scan.base + index as u32) else {
        return 1;
    };
    let Some(d) = dest(id) else {
        return 0;
    };
    let d = unsafe { &*d };
    if d.flags & DEST_LIVE == 0 || d.weight == 0 {
        return 0;
    }
    let Some(conns) = dest_conns(id) else {
        return 0;
    };
    let conns = unsafe { core::ptr::read_volatile(conns) };
    // Counts may dip below zero for a moment (an expiry racing a packet): read as signed.
    let active = (conns.active as i64).max(0) as u64;
    let inactive = (conns.inactive as i64).max(0) as u64;
    let overhead = (active << 8) + inactive;
    let weight = d.weight as u64;
    let better = if scan.found == 0 {
        true
    } else if scan.weighted != 0 {
        // wlc: overhead / weight, compared without dividing (IPVS's ip_vs_wlc_schedule).
        overhead * scan.best_weight < scan.best_overhead * weight
    } else {
        overhead < scan.best_overhead
    };
    if better {
        scan.found = 1;
        scan.best = id;
        scan.best_overhead = overhead;
        scan.best_weight = weight;
    }
    0
}

#[inline(always)]
fn least_connections(service: &LbService) -> Option<(u32, *const LbDest)> {
    let mut scan = Scan {
        base: service.slot_base,
        count: service.slot_count,
        weighted: (service.sched == SCHED_WLC) as u32,
        found: 0,
        best: 0,
        _pad: 0,
        best_overhead: 0,
        best_weight: 0,
    };
    let callback = scan_slot as *mut c_void;
    unsafe {
        bpf_loop(
            service.slot_count,
            callback,
            (&mut scan as *mut Scan).cast(),
            0,
        )
    };
    if scan.found == 0 {
        return None;
    }
    Some((scan.best, dest(scan.best)?))
}
