//! Hot reload: a replaced file is picked up, a broken replacement never replaces a good database.

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use svea_geo::{spawn_watcher, Error, GeoDb};

use crate::poll::eventually_async;
use crate::{writer, Place, Schema, GOTHENBURG, MALMO, STOCKHOLM};

const ADDR: &str = "1.178.93.1";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address is valid")
}

fn city_of(db: &GeoDb) -> Option<String> {
    db.lookup(ip(ADDR))
        .expect("lookups never fail")
        .and_then(|l| l.city)
}

/// Replaces `path` the way deploy tools do: write a temporary file, then rename over it. The
/// modification time is set explicitly: two writes within one filesystem clock tick could
/// otherwise share it (the inode differs anyway, this just does not rely on it).
fn replace(path: &Path, bytes: &[u8], version: u64) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).unwrap();
    let file = fs::File::options().write(true).open(&tmp).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + version))
        .unwrap();
    drop(file);
    fs::rename(&tmp, path).unwrap();
}

/// A database that puts `ADDR` in `place`.
fn placing(place: Place, schema: Schema) -> Vec<u8> {
    writer(schema, &[("1.178.93.0/24", place)])
        .to_bytes()
        .unwrap()
}

#[test]
fn a_replaced_file_is_picked_up_and_a_corrupt_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    replace(&path, &placing(STOCKHOLM, Schema::MaxMind), 1);
    let db = GeoDb::open(&path).unwrap();
    assert_eq!(city_of(&db).as_deref(), Some("Stockholm"));
    assert!(
        !db.reload_if_changed().unwrap(),
        "unchanged file, nothing to do"
    );

    // Same address elsewhere, and in the other schema.
    replace(&path, &placing(GOTHENBURG, Schema::DbIp), 2);
    assert!(db.reload_if_changed().unwrap());
    assert_eq!(city_of(&db).as_deref(), Some("Gothenburg"));
    assert!(!db.reload_if_changed().unwrap());

    // Truncated replacement: an error naming the file, the previous database stays.
    let good = placing(MALMO, Schema::MaxMind);
    replace(&path, &good[..good.len() - 40], 3);
    let error = db.reload_if_changed().unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("city.mmdb"), "{error}");
    assert_eq!(city_of(&db).as_deref(), Some("Gothenburg"));
    // The same broken version is reported once, not at every poll.
    assert!(!db.reload_if_changed().unwrap());
    assert_eq!(city_of(&db).as_deref(), Some("Gothenburg"));

    // Fixed: picked up.
    replace(&path, &good, 4);
    assert!(db.reload_if_changed().unwrap());
    assert_eq!(city_of(&db).as_deref(), Some("Malmö"));

    // The file disappears: an error, lookups go on with what is loaded.
    fs::remove_file(&path).unwrap();
    let error = db.reload_if_changed().unwrap_err();
    assert!(matches!(error, Error::Io { op: "stat", .. }), "{error:?}");
    assert_eq!(city_of(&db).as_deref(), Some("Malmö"));
}

#[test]
fn lookups_keep_working_while_the_file_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    replace(&path, &placing(STOCKHOLM, Schema::DbIp), 0);
    let db = Arc::new(GeoDb::open(&path).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seen = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let city = city_of(&db).expect("every version knows the address");
                assert!(
                    ["Stockholm", "Gothenburg"].contains(&city.as_str()),
                    "{city}"
                );
                seen += 1;
            }
            seen
        })
    };
    for version in 1..=20 {
        let place = if version % 2 == 0 {
            STOCKHOLM
        } else {
            GOTHENBURG
        };
        replace(&path, &placing(place, Schema::DbIp), version);
        assert!(db.reload_if_changed().unwrap());
        assert_eq!(city_of(&db).as_deref(), Some(place.city));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[test]
fn the_watcher_swaps_in_a_new_file_by_itself() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.mmdb");
        replace(&path, &placing(STOCKHOLM, Schema::MaxMind), 1);
        let db = Arc::new(GeoDb::open(&path).unwrap());
        let watcher = spawn_watcher(Arc::clone(&db), Duration::from_millis(20));

        // A corrupt version first: ignored by the watcher (logged), the old database serves.
        replace(&path, b"not a database", 2);
        // Then a good one, which the watcher must pick up within the deadline.
        replace(&path, &placing(MALMO, Schema::DbIp), 3);
        eventually_async(Duration::from_secs(20), "the watcher reloading", || async {
            match city_of(&db).as_deref() {
                Some("Malmö") => true,
                Some("Stockholm") => false,
                other => panic!("unexpected lookup result {other:?}"),
            }
        })
        .await;
        watcher.abort();
    });
}
