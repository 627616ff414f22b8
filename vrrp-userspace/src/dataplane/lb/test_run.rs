//! BPF_PROG_TEST_RUN of the load balancer with the frame it leaves with (the VRRP tests only
//! need the verdict): the forwarding tests check every rewritten byte.

use std::os::fd::{AsFd as _, AsRawFd as _};

use aya::programs::Xdp;

#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct XdpMd {
    data: u32,
    data_end: u32,
    data_meta: u32,
    ingress_ifindex: u32,
    rx_queue_index: u32,
    egress_ifindex: u32,
}

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// What one run reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbTestRun {
    pub verdict: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// Mean nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
}

/// Runs `program` `repeat` times on `frame` as if received on `ifindex` (which must exist in
/// the calling thread's network namespace).
pub fn test_run_frame(
    program: &Xdp,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
) -> std::io::Result<LbTestRun> {
    let fd = program.fd().map_err(std::io::Error::other)?;
    let ctx = XdpMd {
        data_end: frame.len() as u32,
        ingress_ifindex: ifindex,
        ..XdpMd::default()
    };
    // Room for an outer header in front (TUN).
    let mut out = vec![0u8; frame.len() + 256];
    let mut attr = TestRunAttr {
        prog_fd: fd.as_fd().as_raw_fd() as u32,
        data_size_in: frame.len() as u32,
        data_size_out: out.len() as u32,
        data_in: frame.as_ptr() as u64,
        data_out: out.as_mut_ptr() as u64,
        repeat,
        ctx_size_in: size_of::<XdpMd>() as u32,
        ctx_in: &ctx as *const XdpMd as u64,
        ..TestRunAttr::default()
    };
    // SAFETY: attr points at a correctly laid out bpf_attr and at buffers that outlive it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestRunAttr,
            size_of::<TestRunAttr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    out.truncate(attr.data_size_out as usize);
    Ok(LbTestRun {
        verdict: attr.retval,
        frame: out,
        duration_ns: attr.duration,
    })
}
