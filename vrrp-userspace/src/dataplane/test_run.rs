//! BPF_PROG_TEST_RUN: runs the loaded XDP program on a frame in the kernel without a network,
//! for the verdict tests and the per-packet benchmark. aya 0.14 does not expose it, so this is
//! the raw bpf(2) call.

use std::os::fd::{AsFd as _, AsRawFd as _};

use aya::programs::Xdp;

/// `union bpf_attr` as used by BPF_PROG_TEST_RUN (include/uapi/linux/bpf.h).
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

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// `struct xdp_md` as the test-run context: only `ingress_ifindex` is set.
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

/// What one test run reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRun {
    /// The XDP verdict (`XDP_PASS`, `XDP_DROP`, ...).
    pub verdict: u32,
    /// Mean nanoseconds per run as the kernel measured it.
    pub duration_ns: u32,
}

/// What one run reported, with the frame as the program left it (the load balancer's
/// forwarding tests check every rewritten byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbTestRun {
    pub verdict: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// Mean nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
}

/// Runs `program` `repeat` times on `frame`, as if received on `ifindex`.
pub fn test_run(
    program: &Xdp,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
) -> std::io::Result<TestRun> {
    let (verdict, duration_ns) = run(program, frame, ifindex, repeat, None)?;
    Ok(TestRun {
        verdict,
        duration_ns,
    })
}

/// [`test_run`] that also returns the frame as the program left it (which must exist as
/// `ifindex` in the calling thread's network namespace).
pub fn test_run_frame(
    program: &Xdp,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
) -> std::io::Result<LbTestRun> {
    // Room for an outer header in front (TUN).
    let mut out = vec![0u8; frame.len() + 256];
    let (verdict, duration_ns) = run(program, frame, ifindex, repeat, Some(&mut out))?;
    Ok(LbTestRun {
        verdict,
        frame: out,
        duration_ns,
    })
}

/// The bpf(2) call: the verdict and the mean duration; `out`, when given, receives the frame
/// and is cut to its length.
fn run(
    program: &Xdp,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
    mut out: Option<&mut Vec<u8>>,
) -> std::io::Result<(u32, u32)> {
    let fd = program.fd().map_err(std::io::Error::other)?;
    let ctx = XdpMd {
        data_end: frame.len() as u32,
        ingress_ifindex: ifindex,
        ..XdpMd::default()
    };
    let mut attr = TestRunAttr {
        prog_fd: fd.as_fd().as_raw_fd() as u32,
        data_size_in: frame.len() as u32,
        data_in: frame.as_ptr() as u64,
        repeat,
        ctx_size_in: std::mem::size_of::<XdpMd>() as u32,
        ctx_in: &ctx as *const XdpMd as u64,
        ..TestRunAttr::default()
    };
    if let Some(out) = out.as_deref_mut() {
        attr.data_size_out = out.len() as u32;
        attr.data_out = out.as_mut_ptr() as u64;
    }
    // SAFETY: attr points at a correctly laid out bpf_attr and at buffers that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestRunAttr,
            std::mem::size_of::<TestRunAttr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if let Some(out) = out {
        out.truncate(attr.data_size_out as usize);
    }
    Ok((attr.retval, attr.duration))
}
