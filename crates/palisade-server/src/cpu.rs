//! Where CPU work runs. The end of a message runs all of its checks (sender
//! authentication, the phishing engine, signatures, signing, the banner) in one task on
//! the blocking pool ([`run_checks`]): one hand-off per message instead of one per
//! check. Code shared with the rest of the server asks for [`cpu`], which runs inline on
//! that thread and on the blocking pool anywhere else (never on an I/O thread).

use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;

thread_local! {
    /// Set while this thread runs a message's checks (a blocking-pool thread).
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

/// CPU work that did not finish: it panicked, or its task was cancelled.
#[derive(Debug)]
pub struct CpuFailed(String);

impl std::fmt::Display for CpuFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CpuFailed {}

impl CpuFailed {
    /// The message could not be parsed (the parser panicked).
    pub fn parse() -> CpuFailed {
        CpuFailed("parsing the message panicked".into())
    }
}

/// Runs `f` off the I/O threads: inline on a checks thread, else on the blocking pool.
/// A panic in `f` is an error, as a panicked blocking task is, wherever it ran.
pub async fn cpu<T, F>(f: F) -> Result<T, CpuFailed>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if CHECKING.with(Cell::get) {
        return std::panic::catch_unwind(AssertUnwindSafe(f))
            .map_err(|_| CpuFailed("the work panicked".into()));
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CpuFailed(e.to_string()))
}

/// Runs `f` here and now, on a checks thread ([`run_checks`]), for work that reads what
/// the checks hold (the shared parse) and so cannot move to another thread.
pub fn here<T>(f: impl FnOnce() -> T) -> Result<T, CpuFailed> {
    debug_assert!(CHECKING.with(Cell::get), "CPU work on an I/O thread");
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| CpuFailed("the work panicked".into()))
}

/// Marks this thread as running checks for as long as it lives.
struct Checking;

impl Checking {
    fn enter() -> Checking {
        CHECKING.with(|c| c.set(true));
        Checking
    }
}

impl Drop for Checking {
    fn drop(&mut self) {
        CHECKING.with(|c| c.set(false));
    }
}

/// Runs a message's checks to the end on one blocking-pool thread: their I/O (DNS,
/// the store, scanners) through the runtime, their CPU work ([`cpu`]) inline.
pub async fn run_checks<T, F>(checks: F) -> Result<T, CpuFailed>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _checking = Checking::enter();
        handle.block_on(checks)
    })
    .await
    .map_err(|e| CpuFailed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread() -> std::thread::ThreadId {
        std::thread::current().id()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_run_their_cpu_work_on_their_own_thread() -> Result<(), CpuFailed> {
        let (outer, inner) = run_checks(async {
            let here = thread();
            (here, cpu(thread).await)
        })
        .await?;
        assert_eq!(outer, inner?, "inline on the checks thread");
        let elsewhere = cpu(thread).await?;
        assert_ne!(elsewhere, thread(), "never on the I/O thread");
        assert!(!CHECKING.with(Cell::get));
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_an_error_wherever_it_ran() -> Result<(), CpuFailed> {
        let panics = || -> () { panic!("detector") };
        assert!(run_checks(async move { cpu(panics).await }).await?.is_err());
        assert!(run_checks(async move { here(panics) }).await?.is_err());
        assert!(cpu(panics).await.is_err());
        Ok(())
    }
}
