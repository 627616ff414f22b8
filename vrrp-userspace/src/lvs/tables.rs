//! The slot tables the data path schedules from, one per service, rebuilt whenever a
//! destination comes, goes or changes weight. Only destinations with a weight above 0 appear.
//!
//! - `rr`: every destination once. `wrr`: IPVS's interleaved sequence (`ip_vs_wrr_schedule`:
//!   the current weight steps down by the weights' gcd from the maximum).
//! - `sh`: IPVS's 256 buckets, each destination in `weight` consecutive buckets, in turn.
//! - `mh`: Maglev (IPVS `ip_vs_mh`): 4093 slots filled from each destination's permutation,
//!   `weight / gcd` turns per round. When destinations only leave, the slots of those that
//!   stay are kept and only the leavers' slots are filled again (from the new table), so no
//!   flow of a remaining server moves; additions and weight changes repopulate the table.
//! - `lc`/`wlc`: the destinations, scanned for the fewest connections.

use std::net::IpAddr;

use vrrp_common::{LB_MH_TABLE_SIZE, LB_REGION_SLOTS, LB_SH_TABLE_SIZE, lb_mix};

use super::settings::Scheduler;

/// A destination as the tables see it: its id in `lb_dests`, where it is, how heavy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableDest {
    pub id: u32,
    pub addr: IpAddr,
    pub port: u16,
    pub weight: u32,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The slots of a service with these destinations. `previous` is the table now in use (for
/// `mh`'s minimal disruption) with the destinations it was built from.
pub fn build(
    scheduler: Scheduler,
    dests: &[TableDest],
    previous: Option<(&[u32], &[TableDest])>,
) -> Vec<u32> {
    let live: Vec<TableDest> = dests.iter().copied().filter(|d| d.weight > 0).collect();
    if live.is_empty() {
        return Vec::new();
    }
    match scheduler {
        Scheduler::Rr | Scheduler::Lc | Scheduler::Wlc => live.iter().map(|d| d.id).collect(),
        Scheduler::Wrr => wrr(&live),
        Scheduler::Sh => sh(&live),
        Scheduler::Mh => mh(&live, previous),
    }
}

/// IPVS's weighted round-robin sequence over one period (sum of weights / gcd), scaled down
/// if that period would not fit a region.
fn wrr(dests: &[TableDest]) -> Vec<u32> {
    let mut weights: Vec<u64> = dests.iter().map(|d| d.weight as u64).collect();
    let total: u64 = weights.iter().sum();
    let g = dests.iter().fold(0, |g, d| gcd(g, d.weight)) as u64;
    if total / g > LB_REGION_SLOTS as u64 {
        // Keep the ratio, in a period that fits.
        for w in &mut weights {
            *w = (*w * LB_REGION_SLOTS as u64 / total).max(1);
        }
    }
    let g = weights
        .iter()
        .fold(0u64, |g, &w| gcd(g as u32, w as u32) as u64)
        .max(1);
    let max = *weights.iter().max().expect("not empty");
    let period: u64 = weights.iter().sum::<u64>() / g;
    let mut sequence = Vec::with_capacity(period as usize);
    let mut current: i64 = 0;
    let mut i = dests.len() - 1;
    while (sequence.len() as u64) < period {
        i = (i + 1) % dests.len();
        if i == 0 {
            current -= g as i64;
            if current <= 0 {
                current = max as i64;
            }
        }
        if weights[i] as i64 >= current {
            sequence.push(dests[i].id);
        }
    }
    sequence
}

/// IPVS `ip_vs_sh_reassign`: buckets handed out in turn, `weight` consecutive each.
fn sh(dests: &[TableDest]) -> Vec<u32> {
    let mut table = Vec::with_capacity(LB_SH_TABLE_SIZE as usize);
    let (mut at, mut count) = (0usize, 0u32);
    while table.len() < LB_SH_TABLE_SIZE as usize {
        let dest = dests[at];
        table.push(dest.id);
        count += 1;
        if count >= dest.weight {
            at = (at + 1) % dests.len();
            count = 0;
        }
    }
    table
}

fn dest_hash(dest: &TableDest, seed: u32) -> u32 {
    let bytes = match dest.addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    };
    let mut hash = seed;
    for chunk in bytes.chunks(4) {
        hash = lb_mix(hash ^ u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
    }
    lb_mix(hash ^ dest.port as u32)
}

/// Maglev population (Eisenbud et al., NSDI 2016; IPVS `ip_vs_mh_populate`).
fn maglev(dests: &[TableDest]) -> Vec<u32> {
    let size = LB_MH_TABLE_SIZE as usize;
    let g = dests.iter().fold(0, |g, d| gcd(g, d.weight)).max(1);
    let turns: Vec<u32> = dests.iter().map(|d| (d.weight / g).max(1)).collect();
    let offsets: Vec<usize> = dests
        .iter()
        .map(|d| dest_hash(d, 0x5bd1_e995) as usize % size)
        .collect();
    let skips: Vec<usize> = dests
        .iter()
        .map(|d| dest_hash(d, 0x1b87_3593) as usize % (size - 1) + 1)
        .collect();
    let mut next = vec![0usize; dests.len()];
    let mut table = vec![u32::MAX; size];
    let mut filled = 0;
    'fill: loop {
        for i in 0..dests.len() {
            for _ in 0..turns[i] {
                let mut slot = (offsets[i] + next[i] * skips[i]) % size;
                while table[slot] != u32::MAX {
                    next[i] += 1;
                    slot = (offsets[i] + next[i] * skips[i]) % size;
                }
                table[slot] = dests[i].id;
                next[i] += 1;
                filled += 1;
                if filled == size {
                    break 'fill;
                }
            }
        }
    }
    table
}

fn mh(dests: &[TableDest], previous: Option<(&[u32], &[TableDest])>) -> Vec<u32> {
    let fresh = maglev(dests);
    let Some((old_table, old_dests)) = previous else {
        return fresh;
    };
    // Only removals (every destination now was there before, with the same weight): keep
    // every slot of a destination that stays.
    let only_removals = old_table.len() == fresh.len()
        && dests.iter().all(|d| {
            old_dests
                .iter()
                .any(|o| o.id == d.id && o.weight == d.weight)
        });
    if !only_removals {
        return fresh;
    }
    old_table
        .iter()
        .zip(&fresh)
        .map(|(&old, &new)| {
            if dests.iter().any(|d| d.id == old) {
                old
            } else {
                new
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(id: u32, weight: u32) -> TableDest {
        TableDest {
            id,
            addr: IpAddr::from([10, 0, 0, id as u8]),
            port: 80,
            weight,
        }
    }

    #[test]
    fn wrr_is_ipvs_interleaved_sequence() {
        // IPVS with weights 4, 3, 2: a a b a b c a b c.
        assert_eq!(
            build(Scheduler::Wrr, &[dest(0, 4), dest(1, 3), dest(2, 2)], None),
            vec![0, 0, 1, 0, 1, 2, 0, 1, 2]
        );
        assert_eq!(
            build(Scheduler::Wrr, &[dest(0, 1), dest(1, 1)], None),
            vec![0, 1]
        );
    }

    #[test]
    fn weight_zero_is_left_out() {
        assert_eq!(
            build(Scheduler::Rr, &[dest(0, 0), dest(1, 5)], None),
            vec![1]
        );
        assert!(build(Scheduler::Mh, &[dest(0, 0)], None).is_empty());
    }

    #[test]
    fn sh_spreads_by_weight() {
        let table = build(Scheduler::Sh, &[dest(0, 1), dest(1, 3)], None);
        assert_eq!(table.len(), 256);
        assert_eq!(table.iter().filter(|&&d| d == 1).count(), 192);
    }

    #[test]
    fn mh_balances_and_removal_moves_only_the_leaver() {
        let all = [dest(0, 1), dest(1, 1), dest(2, 1), dest(3, 1)];
        let table = build(Scheduler::Mh, &all, None);
        for id in 0..4 {
            let share = table.iter().filter(|&&d| d == id).count();
            assert!((950..=1100).contains(&share), "dest {id} has {share} slots");
        }
        let left = [all[0], all[1], all[3]];
        let after = build(Scheduler::Mh, &left, Some((&table, &all)));
        for (before, now) in table.iter().zip(&after) {
            if *before != 2 {
                assert_eq!(before, now);
            } else {
                assert_ne!(*now, 2);
            }
        }
        for id in [0, 1, 3] {
            let share = after.iter().filter(|&&d| d == id).count();
            assert!(
                (1250..=1480).contains(&share),
                "dest {id} has {share} slots"
            );
        }
    }
}
