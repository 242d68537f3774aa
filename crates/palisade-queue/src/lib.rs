//! The durable spool and the delivery scheduler.
//!
//! Flow: [`Spool::create`] opens `queue/incoming/<id>` and writes the envelope; the
//! session streams the message into the [`SpoolWriter`]; [`SpoolWriter::commit`] hands
//! the file to the group committer, which fdatasyncs every file of a batch in parallel,
//! renames each into `queue/active/`, fsyncs that directory once for the whole batch and
//! only then returns a [`Durable`] proof to each writer. Only `Durable` lets the server
//! say `250`. A crash before that leaves a file in `incoming/`, which recovery deletes:
//! the client never got `250` and will retry.
//!
//! The [`Scheduler`] takes committed messages ([`Committed`]: small ones still in memory
//! for their first attempt), hands each message to a delivery [`Target`],
//! records per-recipient outcomes in the store (`QueueStatus`), retries transient failures
//! with exponential backoff and removes the spool file once every recipient is done.

mod file;
mod inject;
mod scheduler;
mod spool;
pub mod view;

pub use file::{SpoolFileError, SpooledMessage};
pub use inject::{activate, inject};
pub use scheduler::{Bouncer, Outcome, Scheduler, SchedulerConfig, Target, now_secs};
pub use spool::{
    Committed, Destination, Durable, Edit, HELD_BUDGET, Prepared, SMALL_WRITE_THRESHOLD, Spool,
    SpoolError, SpoolWriter, WRITE_THRESHOLD, copy_kept,
};
