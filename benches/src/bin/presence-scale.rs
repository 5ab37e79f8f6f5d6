//! Presence at scale: 10,000 buddies and 10,000 watchers.
//!
//! 1. The store: export (`PresenceData::to_xml`), reading (`PresenceData::from_xml`) and
//!    importing (`PresenceData::import`: replace, and merge of another 10,000 of each, half of
//!    them the same addresses) of 10,000 buddies and 10,000 watchers, and an atomic
//!    `Store::save` + `Store::load`.
//! 2. The sans-IO subscriber core: 10,000 `subscribe` calls, each SUBSCRIBE answered 200, then
//!    each buddy's first NOTIFY (PIDF) absorbed. Only the core's calls are timed; the
//!    presence-server double's work (building the 200s and NOTIFYs) is not. Memory is the
//!    growth of live heap bytes (counting allocator) while the core holds the 10,000
//!    subscriptions, the double's state and the messages dropped.
//!
//! `cargo run --release -p benches --bin presence-scale [-- N]`

use std::time::{Duration, Instant};

use benches::alloc_count::{self, CountingAlloc};
use benches::clock::Clock;
use presence::subscriber::{Subscriber, SubscriberConfig, SubscriberEvent};
use presence::testkit::{NotifierPeer, body, identity};
use presence::{
    Buddy, Group, ImportMode, MediaKind, PresenceData, Scope, Status, Store, Watcher, WatcherState,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The target of issue 5: at most 2 KiB of subscriber state per buddy.
const TARGET_BYTES_PER_BUDDY: i64 = 2048;

fn per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let clock = Clock::best();
    println!(
        "# presence-scale: {n} buddies, {n} watchers; timed by {}",
        clock.describe()
    );

    // 1. Store export and import.
    let data = store_data(0..n)?;
    let mut xml = String::new();
    let export = clock.time(|| xml = data.to_xml());
    let mut read = Ok(PresenceData::default());
    let read_time = clock.time(|| read = PresenceData::from_xml(xml.as_bytes()));
    let read = read?;
    let mut imported = PresenceData::default();
    let mut result = Ok(());
    let replace = clock.time(|| result = imported.import(read, ImportMode::Replace));
    result?;
    assert_eq!(imported.buddies.len(), n);
    assert_eq!(imported.watchers.len(), n);
    // Merge N entries of each kind into the N there, half of them the same addresses.
    let other = store_data(n / 2..n / 2 + n)?;
    let mut result = Ok(());
    let merge = clock.time(|| result = imported.import(other, ImportMode::Merge));
    result?;
    assert_eq!(imported.buddies.len(), n + n / 2);
    assert_eq!(imported.watchers.len(), n + n / 2);
    let dir = std::env::temp_dir().join(format!("presence-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::file(dir.join("presence.xml"));
    let wall = Instant::now();
    store.save(&data)?;
    let save = wall.elapsed();
    let wall = Instant::now();
    let loaded = store.load()?;
    let load = wall.elapsed();
    assert_eq!(loaded.buddies.len(), n);
    std::fs::remove_dir_all(&dir)?;
    println!("store.document_bytes {}", xml.len());
    println!("store.export_us_per_entry {:.2}", per(export, 2 * n));
    println!("store.read_us_per_entry {:.2}", per(read_time, 2 * n));
    println!(
        "store.import_replace_us_per_entry {:.3}",
        per(replace, 2 * n)
    );
    println!("store.import_merge_us_per_entry {:.2}", per(merge, 2 * n));
    println!("store.export_ms {:.1}", export.as_secs_f64() * 1e3);
    println!("store.read_ms {:.1}", read_time.as_secs_f64() * 1e3);
    println!("store.import_merge_ms {:.1}", merge.as_secs_f64() * 1e3);
    println!("store.save_ms_wall {:.1}", save.as_secs_f64() * 1e3);
    println!("store.load_ms_wall {:.1}", load.as_secs_f64() * 1e3);
    drop((data, imported, loaded, xml));

    // 2. The subscriber core.
    let t0 = Instant::now();
    let live_before = alloc_count::live_bytes();
    let mut core = Subscriber::new(identity("alice"), SubscriberConfig::default());
    let buddies: Vec<String> = (0..n)
        .map(|i| format!("sip:buddy{i}@example.com"))
        .collect();
    let mut setup = Duration::ZERO;
    let mut sent = Vec::with_capacity(n);
    for b in &buddies {
        setup += clock.time(|| {
            core.subscribe(t0, b).expect("subscribe");
            sent.push(core.poll_request().expect("SUBSCRIBE"));
        });
    }
    let mut answer = Duration::ZERO;
    let mut absorb = Duration::ZERO;
    let mut reported = 0usize;
    for (out, b) in sent.drain(..).zip(&buddies) {
        let mut peer = NotifierPeer::new(&out.message, "srv");
        let ok = peer.answer(&out.message, 200, Some(3600));
        answer += clock.time(|| core.handle_response(t0, out.handle, &ok));
        let notify = peer.notify(
            "active;expires=3600",
            Some(body(b, Status::Online, None, MediaKind::Pidf)),
        );
        absorb += clock.time(|| {
            let rsp = core.handle_request(t0, &notify).expect("NOTIFY answered");
            assert_eq!(rsp.status(), Some(200));
            while let Some(e) = core.poll_event() {
                if matches!(e, SubscriberEvent::Presence { .. }) {
                    reported += 1;
                }
            }
        });
    }
    assert_eq!(reported, n, "every first NOTIFY reported a status");
    assert_eq!(core.len(), n);
    drop(sent);
    let held = alloc_count::live_bytes()
        - live_before
        - i64::try_from(buddies.capacity() * std::mem::size_of::<String>())?
        - buddies
            .iter()
            .map(|b| i64::try_from(b.capacity()).unwrap_or(0))
            .sum::<i64>();
    let per_buddy = held / i64::try_from(n)?;
    println!("subscriber.subscribe_us_per_buddy {:.2}", per(setup, n));
    println!("subscriber.handle_2xx_us_per_buddy {:.2}", per(answer, n));
    println!("subscriber.first_notify_us_per_buddy {:.2}", per(absorb, n));
    println!(
        "subscriber.total_us_per_buddy {:.2}",
        per(setup + answer + absorb, n)
    );
    println!("subscriber.bytes_per_buddy {per_buddy}");
    println!(
        "# target <= {TARGET_BYTES_PER_BUDDY} bytes per buddy: {}",
        if per_buddy <= TARGET_BYTES_PER_BUDDY {
            "met"
        } else {
            "NOT met"
        }
    );
    drop(core);
    Ok(())
}

/// Buddies `buddy{i}@example.com` (each in group `g{i % 100}`) and watchers
/// `watcher{i}@example.org` (a third of them blocked) for every `i` in `range`.
fn store_data(range: std::ops::Range<usize>) -> Result<PresenceData, presence::Error> {
    let mut data = PresenceData::default();
    for i in range {
        let group = format!("g{}", i % 100);
        data.buddies.add_group(Group::new(&group));
        let mut b = Buddy::new(&format!("sip:buddy{i}@example.com"), &format!("Buddy {i}"))?;
        b.groups.push(group.into());
        data.buddies.add(b)?;
        let mut w = Watcher::new(
            &format!("sip:watcher{i}@example.org"),
            if i % 3 == 0 {
                WatcherState::Blocked
            } else {
                WatcherState::Allowed
            },
            Scope::User,
        );
        w.name = format!("Watcher {i}").into();
        data.watchers.add(w)?;
    }
    Ok(data)
}
