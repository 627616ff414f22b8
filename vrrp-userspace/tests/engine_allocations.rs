//! The steady-state receive path allocates nothing: a backup hearing its master's advert
//! updates a timer and returns an empty action list.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use xvrrpd::engine::{
    Event, Flavor, InstanceConfig, InstanceId, InstanceSettings, MacAddr, Router, State, Timestamp,
};
use xvrrpd::protocol::Priority;

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measured thread counts: the test harness's own threads allocate too (under
    /// load it reports on running tests), and those are not the engine's.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn a_backup_hearing_its_master_allocates_nothing() {
    let configs = (0..100u8)
        .map(|i| {
            let mut settings = InstanceSettings::new(
                &format!("VI_{i}"),
                i + 1,
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                MacAddr([2, 0, 0, 0, 0, 1]),
            );
            settings.flavor = Flavor::V3Ipv4;
            InstanceConfig::new(settings).expect("a valid instance")
        })
        .collect();
    let mut router = Router::new(configs, Vec::new()).unwrap();
    router.broadcast(Timestamp::ZERO, &Event::Startup);
    let master = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    for step in 1..=100u64 {
        let now = Timestamp::from_nanos(step * 10_000_000);
        for id in 0..100 {
            let event = Event::Advert {
                src: master,
                priority: Priority(200),
                interval: Duration::from_millis(10),
            };
            let actions = router.handle(now, InstanceId(id), event);
            assert!(actions.is_empty());
        }
    }
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocations, 0,
        "10,000 steady-state adverts allocated {allocations} times"
    );
    assert!(router.instances().all(|(_, i)| i.state() == State::Backup));
}
