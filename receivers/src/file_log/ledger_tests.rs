#![allow(clippy::unwrap_used)]
use super::*;
use crate::file_log::tests::MemKv;
use ferrotel_core::KeyValueStore;

fn info(id: u64) -> FileInfo {
    let mut f = FileInfo::of(std::path::Path::new("/x/a.log"));
    f.id = id;
    f.fingerprint = Arc::from(&b"fp"[..]);
    f
}

fn at(start: u64, end: u64, record_number: i64) -> At {
    At {
        start,
        end,
        record_number,
    }
}

fn saved_offset(kv: &MemKv) -> u64 {
    let bytes = kv.get(super::super::checkpoint::KEY).unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v[0]["offset"].as_u64().unwrap()
}

/// Batch `i` holds the 10-byte entries `2i` and `2i + 1`.
fn batch(ledger: &Arc<Ledger>, i: u64) -> Delivery {
    let mut m = Marks::default();
    m.add(&info(1), at(20 * i, 20 * i + 10, 2 * i as i64 + 1));
    m.add(&info(1), at(20 * i + 10, 20 * i + 20, 2 * i as i64 + 2));
    ledger.send(m)
}

#[test]
fn the_checkpoint_follows_in_order_releases() {
    let kv = Arc::new(MemKv::default());
    let ledger = Ledger::new(Checkpoints::new(kv.clone()), "filelog".into());
    let (a, b, c) = (batch(&ledger, 0), batch(&ledger, 1), batch(&ledger, 2));
    let mut read = FilePos::of_info(&info(1), 60, 6);
    ledger.sync(vec![read.clone()]);
    ledger.save_if_dirty();
    assert_eq!(saved_offset(&kv), 0, "nothing delivered");
    drop(b);
    ledger.save_if_dirty();
    assert_eq!(saved_offset(&kv), 0, "the first batch is still out");
    drop(a);
    ledger.save_if_dirty();
    assert_eq!(saved_offset(&kv), 40, "the first two are delivered");
    drop(c);
    ledger.save_if_dirty();
    assert_eq!(saved_offset(&kv), 60);
    assert_eq!(ledger.in_flight(), 0);
    read.offset = 70;
    ledger.sync(vec![read]);
    ledger.save_if_dirty();
    assert_eq!(saved_offset(&kv), 70, "read on, nothing out");
}

#[test]
fn a_frozen_ledger_saves_nothing_more() {
    let kv = Arc::new(MemKv::default());
    let ledger = Ledger::new(Checkpoints::new(kv.clone()), "filelog".into());
    ledger.sync(vec![FilePos::of_info(&info(1), 0, 0)]);
    ledger.save_if_dirty();
    let a = batch(&ledger, 0);
    ledger.freeze();
    drop(a);
    ledger.stop();
    assert_eq!(saved_offset(&kv), 0);
}

#[test]
fn after_stop_a_release_saves_by_itself() {
    let kv = Arc::new(MemKv::default());
    let ledger = Ledger::new(Checkpoints::new(kv.clone()), "filelog".into());
    let a = batch(&ledger, 0);
    ledger.sync(vec![FilePos::of_info(&info(1), 20, 2)]);
    ledger.stop();
    assert_eq!(saved_offset(&kv), 0);
    drop(a);
    assert_eq!(saved_offset(&kv), 20);
}
