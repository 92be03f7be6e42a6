//! Ctrl-C: the first cancels the running effect and lets the operator choose; a second aborts (exit 130).
//! SIGTERM and SIGHUP abort like a second Ctrl-C (exit 143, 129). An abort cancels the running effect --
//! which stops its process, here or on the target -- and the run ends through its normal path, so the
//! journal is closed with the cause; a watchdog exits anyway if that takes longer than 30 seconds.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct Interrupts {
    pending: AtomicUsize,
    token: Mutex<CancellationToken>,
    /// The exit code of an abort under way (130 a second Ctrl-C, 143 SIGTERM, 129 SIGHUP), or 0.
    abort: AtomicI32,
}

impl Interrupts {
    pub fn new() -> Arc<Interrupts> {
        Arc::new(Interrupts::default())
    }

    /// Listens for SIGINT, SIGTERM and SIGHUP on the runtime until the guard is dropped. `on_abort` says
    /// why the run is aborting (the signal's name and the exit code).
    pub fn listen(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        on_abort: impl Fn(&str, i32) + Send + 'static,
    ) -> Listening {
        use tokio::signal::unix::{SignalKind, signal};
        let this = Arc::clone(self);
        let task = runtime.spawn(async move {
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
            else {
                return;
            };
            loop {
                let (name, code) = tokio::select! {
                    _ = int.recv() => {
                        if this.pending.fetch_add(1, Ordering::SeqCst) == 0 && this.aborting().is_none() {
                            this.token.lock().unwrap_or_else(|p| p.into_inner()).cancel();
                            continue;
                        }
                        ("a second Ctrl-C", 130)
                    }
                    _ = term.recv() => ("SIGTERM", 143),
                    _ = hup.recv() => ("SIGHUP", 129),
                };
                if this.abort.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    on_abort(name, code);
                    this.token.lock().unwrap_or_else(|p| p.into_inner()).cancel();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        std::process::exit(code);
                    });
                }
            }
        });
        Listening { task }
    }

    /// The exit code of an abort under way, if one is.
    pub fn aborting(&self) -> Option<i32> {
        match self.abort.load(Ordering::SeqCst) {
            0 => None,
            code => Some(code),
        }
    }

    /// The token effects race; it is cancelled by the first Ctrl-C.
    pub fn token(&self) -> CancellationToken {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn fired(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0 || self.aborting().is_some()
    }

    /// The operator has dealt with the interrupt: the next Ctrl-C is a first one again. An abort stays.
    pub fn settle(&self) {
        if self.aborting().is_some() {
            return;
        }
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = CancellationToken::new();
        self.pending.store(0, Ordering::SeqCst);
    }
}

/// Stops listening when dropped, so a finished run's listener never acts on a later Ctrl-C.
pub struct Listening {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}
