//! Ctrl-C: the first cancels the running effect and lets the operator choose; a second aborts (exit 130).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct Interrupts {
    pending: AtomicUsize,
    token: Mutex<CancellationToken>,
}

impl Interrupts {
    pub fn new() -> Arc<Interrupts> {
        Arc::new(Interrupts::default())
    }

    /// Listens for SIGINT on the runtime until the guard is dropped. `on_abort` runs (then the process
    /// exits 130) on the second one.
    pub fn listen(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        on_abort: impl Fn() + Send + 'static,
    ) -> Listening {
        let this = Arc::clone(self);
        let task = runtime.spawn(async move {
            let Ok(mut signals) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) else {
                return;
            };
            while signals.recv().await.is_some() {
                if this.pending.fetch_add(1, Ordering::SeqCst) >= 1 {
                    on_abort();
                    std::process::exit(130);
                }
                this.token.lock().unwrap_or_else(|p| p.into_inner()).cancel();
            }
        });
        Listening { task }
    }

    /// The token effects race; it is cancelled by the first Ctrl-C.
    pub fn token(&self) -> CancellationToken {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn fired(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }

    /// The operator has dealt with the interrupt: the next Ctrl-C is a first one again.
    pub fn settle(&self) {
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
