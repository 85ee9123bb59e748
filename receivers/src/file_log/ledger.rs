//! With `storage`: which entries have left the collector, so a checkpoint never gets ahead of
//! delivery. Every batch the sink sends carries a [`Delivery`] token; the engine releases it
//! once the batch's data was exported, dropped for good, or written to a persistent sending
//! queue (see `ferrotel_core::delivery`). Batches are numbered in sending order; the saved
//! position of a file is where its first entry in the oldest batch not yet released starts
//! (in order: a released batch after an unreleased one moves nothing), or, when it has none,
//! where reading it stands.
//!
//! Saving happens on the reader thread (after each poll, after a sent batch, and when woken
//! by a release while it waits) and, once the reader stopped, in the release itself, so the
//! data still draining through the pipeline at shutdown is checkpointed as it leaves.

use super::checkpoint::{Checkpoints, FilePos};
use super::emit::{At, FileInfo};
use ferrotel_core::{Delivery, DeliveryListener};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// One file's entries in one batch: where the first starts and the last ends.
#[derive(Debug, Clone)]
pub struct Mark {
    start: FilePos,
    end: (u64, i64),
}

/// The per-file marks of the batch being filled.
#[derive(Debug, Default)]
pub struct Marks(Vec<Mark>);

impl Marks {
    pub fn add(&mut self, file: &FileInfo, at: At) {
        let end = (at.end, at.record_number);
        if let Some(m) = self.0.iter_mut().rev().find(|m| m.start.id == file.id) {
            m.end = end;
            return;
        }
        let start = FilePos::of_info(file, at.start, at.record_number - 1);
        self.0.push(Mark { start, end });
    }
}

struct Sent {
    released: bool,
    marks: Vec<Mark>,
}

struct State {
    checkpoints: Checkpoints,
    /// The number of `sent[0]`.
    first: u64,
    sent: VecDeque<Sent>,
    /// Positions of the known files, all their entries before it delivered or not yet sent.
    files: Vec<FilePos>,
    /// A release moved something since the last save.
    dirty: bool,
    /// The reader thread is gone: releases save at once.
    stopped: bool,
    /// A batch was abandoned at shutdown: nothing is saved any more.
    frozen: bool,
}

/// The shared record of sent batches (one per receiver with `storage`).
pub struct Ledger {
    state: Mutex<State>,
    /// Wakes the reader thread after a release.
    pub released: Notify,
    receiver: String,
}

impl Ledger {
    pub fn new(checkpoints: Checkpoints, receiver: String) -> Arc<Ledger> {
        Arc::new(Ledger {
            state: Mutex::new(State {
                checkpoints,
                first: 0,
                sent: VecDeque::new(),
                files: vec![],
                dirty: false,
                stopped: false,
                frozen: false,
            }),
            released: Notify::new(),
            receiver,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the last run's files (see [`Checkpoints::load`]).
    pub fn load(&self) -> Result<Vec<super::reader::Reader>, ferrotel_core::StorageError> {
        self.lock().checkpoints.load()
    }

    /// Records a batch about to be sent; its token releases it.
    pub fn send(self: &Arc<Self>, marks: Marks) -> Delivery {
        let mut s = self.lock();
        let id = s.first + s.sent.len() as u64;
        s.sent.push_back(Sent {
            released: false,
            marks: marks.0,
        });
        Delivery::new(self.clone(), id)
    }

    /// The tailer's files as reading stands now (after a poll): replaces the known set.
    pub fn sync(&self, files: Vec<FilePos>) {
        let mut s = self.lock();
        s.files = files;
        s.dirty = true;
    }

    /// Saves if a release or a sync moved something.
    pub fn save_if_dirty(&self) {
        let mut s = self.lock();
        if s.dirty {
            self.save(&mut s);
        }
    }

    /// The reader thread is done: later releases save by themselves.
    pub fn stop(&self) {
        let mut s = self.lock();
        s.stopped = true;
        if s.dirty {
            self.save(&mut s);
        }
    }

    /// An abandoned batch: its data did not leave, so no position may move past it again.
    pub fn freeze(&self) {
        self.lock().frozen = true;
    }

    /// Batches sent and not yet released (in order).
    pub fn in_flight(&self) -> usize {
        self.lock().sent.len()
    }

    fn save(&self, s: &mut State) {
        s.dirty = false;
        if s.frozen {
            return;
        }
        let mut files = s.files.clone();
        for m in s.sent.iter().flat_map(|b| &b.marks) {
            match files.iter_mut().find(|f| f.id == m.start.id) {
                Some(f) if f.offset > m.start.offset => {
                    f.offset = m.start.offset;
                    f.record_number = m.start.record_number;
                }
                Some(_) => {}
                // Nothing of it delivered yet: read it from where this batch starts.
                None => files.push(m.start.clone()),
            }
        }
        if let Err(e) = s.checkpoints.save(files.iter()) {
            tracing::warn!(receiver = %self.receiver, "saving file offsets failed: {e}");
        }
    }
}

impl DeliveryListener for Ledger {
    fn delivered(&self, id: u64) {
        let mut s = self.lock();
        let Some(i) = id.checked_sub(s.first) else {
            return;
        };
        if let Some(b) = s.sent.get_mut(i as usize) {
            b.released = true;
        }
        let mut moved = false;
        while s.sent.front().is_some_and(|b| b.released) {
            let Some(b) = s.sent.pop_front() else { break };
            s.first += 1;
            moved = true;
            for m in b.marks {
                let (offset, record_number) = m.end;
                match s.files.iter_mut().find(|f| f.id == m.start.id) {
                    // The tailer may already be further (it syncs what it read).
                    Some(f) if f.offset >= offset => {}
                    Some(f) => (f.offset, f.record_number) = (offset, record_number),
                    None => s.files.push(FilePos {
                        offset,
                        record_number,
                        ..m.start
                    }),
                }
            }
        }
        if !moved {
            return;
        }
        s.dirty = true;
        if s.stopped {
            self.save(&mut s);
        } else {
            drop(s);
            self.released.notify_one();
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
