//! The steady-state send path allocates nothing: what the daemon's loop does for every advert
//! of 100 masters at 10 ms - take the due instances out of the deadline queue, let the engine
//! handle their timers, queue the adverts it returns (frames built once per priority), send
//! them with one `sendmmsg`, compare each instance's receive policy with what the kernel has,
//! put its next deadline back and re-arm the timerfd - counted by a global allocator over
//! 1,000 ticks (100,000 adverts). The frames really leave, on the loopback of a network
//! namespace of the test's own. Needs root (CAP_NET_ADMIN, CAP_NET_RAW).

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use xvrrpd::daemon::receive::kernel_policy;
use xvrrpd::daemon::schedule::DeadlineQueue;
use xvrrpd::daemon::sockets::{AdvertBatch, FrameSender};
use xvrrpd::daemon::timer::DeadlineTimer;
use xvrrpd::engine::{
    Action, AdvertPacket, Event, Flavor, InstanceConfig, InstanceSettings, MacAddr, Router, State,
    Timestamp,
};
use xvrrpd::protocol::Priority;

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Moves this thread into a network namespace of its own and brings its loopback up.
fn private_network() {
    // SAFETY: unshare and ioctl with valid arguments; the socket is closed right after.
    unsafe {
        assert_eq!(
            libc::unshare(libc::CLONE_NEWNET),
            0,
            "unshare(CLONE_NEWNET) (root?): {}",
            std::io::Error::last_os_error()
        );
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let mut request: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            request.ifr_name[i] = *b as libc::c_char;
        }
        request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &request), 0);
        libc::close(fd);
    }
}

const LOOPBACK: u32 = 1;
const INSTANCES: usize = 100;
const INTERVAL: Duration = Duration::from_millis(10);

#[test]
fn a_hundred_masters_advertising_allocate_nothing() {
    private_network();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _reactor = runtime.enter();

    let configs = (0..INSTANCES)
        .map(|i| {
            let mut settings = InstanceSettings::new(
                &format!("VI_{i}"),
                i as u8 + 1,
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                MacAddr([2, 0, 0, 0, 0, 1]),
            );
            settings.flavor = Flavor::V3Ipv4;
            // Owners start as master at once.
            settings.priority = Priority(255);
            settings.advert_interval = INTERVAL;
            settings.advertised = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8))];
            settings.garp.master_delay = None;
            InstanceConfig::new(settings).expect("a valid instance")
        })
        .collect();
    let mut router = Router::new(configs, Vec::new()).unwrap();
    let sender = FrameSender::new().expect("AF_PACKET socket");
    let mut batch = AdvertBatch::new();
    let mut queue = DeadlineQueue::new(INSTANCES);
    let mut timer = DeadlineTimer::new().unwrap();
    let mut due = Vec::new();
    let mut changed = Vec::new();
    let mut actions = Vec::new();
    let mut policies = vec![None; INSTANCES];
    let source = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let mut sent = 0;
    let mut failures = 0;

    let start = Timestamp::from_nanos(1_000_000_000);
    let startup = router.broadcast(start, &Event::Startup);
    assert!(router.instances().all(|(_, i)| i.state() == State::Master));
    drop(startup);
    let mut now = start;
    let mut before = 0;
    for tick in 0..1_010 {
        if tick == 10 {
            before = ALLOCATIONS.load(Ordering::Relaxed);
        }
        // What Runtime::deadlines and Runtime::perform_all do.
        queue.pop_due(now, &mut due);
        for &(id, _) in &due {
            router.handle_into(now, id, Event::Timer, &mut actions);
        }
        for (id, action) in actions.drain(..) {
            if let Action::SendAdvert { packets, .. } = action {
                for packet in packets.iter() {
                    if let AdvertPacket::Multicast { frame } = packet {
                        batch.push(LOOPBACK, frame, id.0);
                    }
                }
            }
        }
        sent += batch.flush(&sender, |_, _| failures += 1);
        // What Runtime::after_engine does.
        router.take_changed(&mut changed);
        for &id in &changed {
            let instance = router.instance(id);
            let policy = kernel_policy(&instance.receive_policy(now), source, 1);
            if policies[id.0] != Some(policy) {
                policies[id.0] = Some(policy);
            }
            queue.set(id, instance.next_deadline());
        }
        timer.set(queue.next()).unwrap();
        now = queue.next().expect("masters always have a next advert");
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(failures, 0);
    // Tick 0 only schedules the first adverts.
    assert_eq!(
        sent,
        INSTANCES * 1_009,
        "every advert left, one sendmmsg per tick"
    );
    assert_eq!(
        allocations, 0,
        "100,000 steady-state adverts allocated {allocations} times"
    );
    assert_eq!(
        queue.len(),
        INSTANCES,
        "one schedule for all: they became master together"
    );
    assert_eq!(now, start + INTERVAL * 1_010, "no drift");
}
