//! `cargo xtask bench engine`: received adverts per second through the engine for 1,000
//! instances in BACKUP (the steady state of a backup router), on one core.
//! Target (issue 4): over 5 million adverts per second.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xvrrpd::engine::{
    Event, Flavor, InstanceConfig, InstanceId, InstanceSettings, MacAddr, Router, Timestamp,
};
use xvrrpd::protocol::Priority;

const INSTANCES: usize = 1_000;

fn backup_router() -> Router {
    let configs = (0..INSTANCES)
        .map(|i| {
            let mut settings = InstanceSettings::new(
                &format!("VI_{i}"),
                (i % 255) as u8 + 1,
                IpAddr::V4(Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1)),
                MacAddr([2, 0, 0, 0, 0, 1]),
            );
            settings.flavor = Flavor::V3Ipv4;
            settings.advert_interval = Duration::from_millis(10);
            InstanceConfig::new(settings).expect("a valid instance")
        })
        .collect();
    let mut router = Router::new(configs, Vec::new()).expect("no sync groups");
    router.broadcast(Timestamp::ZERO, &Event::Startup);
    router
}

fn steady_state_adverts(c: &mut Criterion) {
    let mut router = backup_router();
    let master = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(INSTANCES as u64));
    group.bench_function("1000 backups x 1 advert each", |b| {
        let mut now = Timestamp::ZERO;
        b.iter(|| {
            now = now + Duration::from_millis(10);
            for id in 0..INSTANCES {
                let event = Event::Advert {
                    src: master,
                    priority: Priority(200),
                    interval: Duration::from_millis(10),
                };
                let actions = router.handle(now, InstanceId(id), event);
                black_box(actions);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, steady_state_adverts);
criterion_main!(benches);
