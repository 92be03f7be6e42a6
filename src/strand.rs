//! Strands: work that runs together on this one thread, each piece on a stack of its own.
//!
//! Rhai's engine and golive's controller are single-threaded (Rc, RefCell), so the items of a repeated step
//! cannot run on threads. Each runs as a strand instead: when a strand waits for an effect ([`wait`]), the
//! others run, so the waiting overlaps while every line of script, journal and terminal stays on one
//! thread and in one order of events. Outside a strand, [`wait`] simply blocks.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use corosensei::stack::DefaultStack;
use corosensei::{CoroutineResult, ScopedCoroutine, ScopedCoroutineRef, Yielder};

/// Each strand's stack, as large as a main thread's (Rhai recurses on it); pages are only committed
/// when touched.
const STACK_BYTES: usize = 8 << 20;

type Strand<'a, T> = ScopedCoroutine<'a, (), (), T, DefaultStack>;
type Running<'s, T> = ScopedCoroutineRef<'s, (), (), T, DefaultStack>;

/// The strand running now: its number in its group, how it suspends, and how it is woken.
#[derive(Clone)]
struct Current {
    id: usize,
    yielder: *const Yielder<(), ()>,
    waker: Waker,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
    /// Set by a strand that suspends in `pass`: the scheduler then starts a strand not yet started first.
    static PASSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The number of the strand running now (its item's place in the group), if any.
pub fn current() -> Option<usize> {
    CURRENT.with(|c| c.borrow().as_ref().map(|c| c.id))
}

/// Strands whose future may go on: filled by wakers (from any thread), emptied by the scheduler.
#[derive(Default)]
struct Ready {
    queue: Mutex<VecDeque<usize>>,
    signal: Condvar,
}

struct Wakeup {
    id: usize,
    ready: Arc<Ready>,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut queue = self.ready.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if !queue.contains(&self.id) {
            queue.push_back(self.id);
        }
        self.ready.signal.notify_one();
    }
}

/// Runs `tasks` as strands, at most `width` started and unfinished at once, and returns their results in
/// the tasks' order. Every strand runs to its end before this returns: none is abandoned halfway. Inside
/// a strand (or with a width of 1, or no stack to be had) the tasks run one after another.
pub fn run_together<'a, T>(width: usize, tasks: Vec<Box<dyn FnOnce() -> T + 'a>>) -> Vec<T> {
    if width <= 1 || tasks.len() <= 1 || current().is_some() {
        return tasks.into_iter().map(|task| task()).collect();
    }
    let ready = Arc::new(Ready::default());
    let mut strands = Vec::with_capacity(tasks.len());
    let mut tasks = tasks.into_iter();
    for (id, task) in tasks.by_ref().enumerate() {
        let Ok(stack) = DefaultStack::new(STACK_BYTES) else {
            // No memory for another stack: what was made runs together, the rest after.
            let mut results = run_strands(width, strands, &ready);
            results.push(task());
            results.extend(tasks.map(|task| task()));
            return results;
        };
        let waker = Waker::from(Arc::new(Wakeup { id, ready: Arc::clone(&ready) }));
        strands.push(Strand::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            CURRENT.with(|c| *c.borrow_mut() = Some(Current { id, yielder, waker }));
            task()
        }));
    }
    run_strands(width, strands, &ready)
}

fn run_strands<T>(width: usize, strands: Vec<Strand<'_, T>>, ready: &Arc<Ready>) -> Vec<T> {
    let count = strands.len();
    enter_all(strands.into_iter(), Vec::with_capacity(count), &mut |running| schedule(width, running, ready))
}

/// Enters each strand's scope in turn (a strand may borrow from its caller only inside one), then hands
/// them all to `then`.
fn enter_all<'s, 'a, T>(
    mut rest: std::vec::IntoIter<Strand<'a, T>>,
    entered: Vec<Running<'s, T>>,
    then: &mut dyn FnMut(&mut [Running<'_, T>]) -> Vec<T>,
) -> Vec<T> {
    match rest.next() {
        None => {
            let mut entered = entered;
            then(&mut entered)
        }
        Some(strand) => strand.scope(move |running| {
            let mut entered: Vec<Running<'_, T>> = entered;
            entered.push(running);
            enter_all(rest, entered, then)
        }),
    }
}

fn schedule<T>(width: usize, strands: &mut [Running<'_, T>], ready: &Ready) -> Vec<T> {
    let count = strands.len();
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    let mut started = 0;
    let mut finished = 0;
    let mut queue: VecDeque<usize> = VecDeque::new();
    // A pass left over by a group that a panic ended says nothing about this one.
    PASSED.set(false);
    let mut passed = false;
    while finished < count {
        let can_start = started < count && started - finished < width;
        let next = match queue.pop_front() {
            // After a pass, a strand not yet started goes first, so that its boundary shares the sync too.
            Some(id) if passed && can_start => {
                queue.push_front(id);
                started += 1;
                started - 1
            }
            Some(id) => id,
            None if can_start => {
                started += 1;
                started - 1
            }
            None => {
                let mut woken = ready.queue.lock().unwrap_or_else(PoisonError::into_inner);
                while woken.is_empty() {
                    woken = ready.signal.wait(woken).unwrap_or_else(PoisonError::into_inner);
                }
                queue.extend(woken.drain(..));
                continue;
            }
        };
        if results[next].is_some() {
            continue;
        }
        let outcome = {
            let _back = BackInScheduler;
            strands[next].as_mut().resume(())
        };
        passed = PASSED.replace(false);
        if let CoroutineResult::Return(value) = outcome {
            results[next] = Some(value);
            finished += 1;
        }
        // Wakes that came while strands ran: their strands go on next.
        let mut woken = ready.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.extend(woken.drain(..).filter(|id| *id < started));
    }
    results.into_iter().map(|r| r.expect("every strand finished")).collect()
}

/// The scheduler runs again: no strand is current. Also when a strand's panic comes out of `resume` and
/// unwinds through the scheduler, so that nothing later takes a dead strand's yielder for its own.
struct BackInScheduler;

impl Drop for BackInScheduler {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Lets the strands that can go on, and one not yet started when there is room, run before this one goes on
/// (so that those reaching a journal boundary meanwhile share its sync); nothing outside a strand.
pub fn pass() {
    let Some(me) = CURRENT.with(|c| c.borrow().clone()) else { return };
    PASSED.set(true);
    // Woken first, it is queued behind the strands already waiting to run.
    me.waker.wake_by_ref();
    // SAFETY: as in `wait`: CURRENT holds the yielder of the coroutine running this code.
    unsafe { &*me.yielder }.suspend(());
    CURRENT.with(|c| *c.borrow_mut() = Some(me.clone()));
}

/// Drives `future` to its end. In a strand, the other strands run whenever it is pending; elsewhere the
/// thread blocks on `runtime` until it is done.
pub fn wait<F: Future>(runtime: &tokio::runtime::Handle, future: F) -> F::Output {
    let Some(me) = CURRENT.with(|c| c.borrow().clone()) else {
        return runtime.block_on(future);
    };
    let mut future = pin!(future);
    let mut context = Context::from_waker(&me.waker);
    loop {
        // The runtime's context only while polling: strands poll in any order, and tokio's context guards
        // must be dropped in the order they were made.
        let polled = {
            let _inside = runtime.enter();
            future.as_mut().poll(&mut context)
        };
        match polled {
            Poll::Ready(value) => return value,
            Poll::Pending => {
                // SAFETY: `yielder` was set by the coroutine running this very code (CURRENT is set when a
                // strand starts and again below each time it resumes, and cleared by the scheduler when it
                // suspends or ends), so it points to that coroutine's live Yielder.
                unsafe { &*me.yielder }.suspend(());
                CURRENT.with(|c| *c.borrow_mut() = Some(me.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    #[test]
    fn strands_waiting_on_timers_overlap_and_keep_their_order() {
        let runtime = runtime();
        let log = RefCell::new(Vec::new());
        let started = Instant::now();
        let tasks: Vec<Box<dyn FnOnce() -> usize + '_>> = (0..4usize)
            .map(|i| {
                let (runtime, log) = (&runtime, &log);
                Box::new(move || {
                    log.borrow_mut().push(format!("start {i} as {:?}", current()));
                    wait(runtime.handle(), async {
                        tokio::time::sleep(Duration::from_millis(300 - 50 * i as u64)).await
                    });
                    log.borrow_mut().push(format!("end {i}"));
                    i * 10
                }) as Box<dyn FnOnce() -> usize>
            })
            .collect();
        let results = run_together(4, tasks);
        assert_eq!(results, vec![0, 10, 20, 30]);
        assert!(started.elapsed() < Duration::from_millis(550), "{:?}", started.elapsed());
        let log = log.into_inner();
        assert_eq!(&log[..4], ["start 0 as Some(0)", "start 1 as Some(1)", "start 2 as Some(2)", "start 3 as Some(3)"]);
        assert_eq!(&log[4..], ["end 3", "end 2", "end 1", "end 0"]);
        assert_eq!(current(), None);
    }

    #[test]
    fn a_strand_that_panics_leaves_no_current_strand_and_the_next_group_runs() {
        let runtime = runtime();
        let tasks: Vec<Box<dyn FnOnce() -> usize + '_>> = (0..3usize)
            .map(|i| {
                let runtime = &runtime;
                Box::new(move || {
                    wait(runtime.handle(), async { tokio::time::sleep(Duration::from_millis(10 * i as u64)).await });
                    assert!(i != 1, "strand {i} fails");
                    i
                }) as Box<dyn FnOnce() -> usize>
            })
            .collect();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_together(3, tasks)));
        assert!(caught.is_err(), "the strand's panic reaches the caller");
        assert_eq!(current(), None);
        // Outside a strand, wait blocks as it should instead of suspending a dead strand.
        assert_eq!(wait(runtime.handle(), async { 5 }), 5);
        let again: Vec<Box<dyn FnOnce() -> usize>> = (0..2usize).map(|i| Box::new(move || i) as Box<_>).collect();
        assert_eq!(run_together(2, again), vec![0, 1]);
    }

    #[test]
    fn a_strand_that_passes_lets_a_strand_not_yet_started_run_first() {
        let log = RefCell::new(Vec::new());
        let tasks: Vec<Box<dyn FnOnce() + '_>> = (0..3)
            .map(|i| {
                let log = &log;
                Box::new(move || {
                    log.borrow_mut().push(format!("{i} appends"));
                    pass();
                    log.borrow_mut().push(format!("{i} syncs"));
                }) as Box<dyn FnOnce()>
            })
            .collect();
        run_together(2, tasks);
        // Two at a time: the third starts once one has ended.
        assert_eq!(log.into_inner(), ["0 appends", "1 appends", "0 syncs", "1 syncs", "2 appends", "2 syncs"]);
    }

    #[test]
    fn a_strand_that_passes_lets_the_strands_woken_with_it_run_first() {
        let runtime = runtime();
        let barrier = tokio::sync::Barrier::new(3);
        let log = RefCell::new(Vec::new());
        let tasks: Vec<Box<dyn FnOnce() + '_>> = (0..3)
            .map(|i| {
                let (runtime, barrier, log) = (&runtime, &barrier, &log);
                Box::new(move || {
                    // The last to arrive wakes the other two: three strands ready at once, as after I/O.
                    wait(runtime.handle(), barrier.wait());
                    log.borrow_mut().push(format!("{i} appends"));
                    pass();
                    log.borrow_mut().push(format!("{i} syncs"));
                }) as Box<dyn FnOnce()>
            })
            .collect();
        run_together(3, tasks);
        let log = log.into_inner();
        assert!(log[..3].iter().all(|l| l.ends_with("appends")), "{log:?}");
        assert!(log[3..].iter().all(|l| l.ends_with("syncs")), "{log:?}");
        pass();
        assert_eq!(current(), None, "outside a strand pass does nothing");
    }

    #[test]
    fn no_more_than_width_strands_are_unfinished_at_once() {
        let runtime = runtime();
        let live = RefCell::new((0usize, 0usize));
        let tasks: Vec<Box<dyn FnOnce() + '_>> = (0..7)
            .map(|_| {
                let (runtime, live) = (&runtime, &live);
                Box::new(move || {
                    {
                        let mut l = live.borrow_mut();
                        l.0 += 1;
                        l.1 = l.1.max(l.0);
                    }
                    wait(runtime.handle(), async { tokio::time::sleep(Duration::from_millis(20)).await });
                    live.borrow_mut().0 -= 1;
                }) as Box<dyn FnOnce()>
            })
            .collect();
        run_together(3, tasks);
        assert_eq!(live.into_inner(), (0, 3));
    }

    #[test]
    fn outside_a_strand_wait_blocks_and_inside_one_a_nested_group_runs_in_turn() {
        let runtime = runtime();
        assert_eq!(wait(runtime.handle(), async { 7 }), 7);
        let order = RefCell::new(Vec::new());
        let outer: Vec<Box<dyn FnOnce() + '_>> = (0..2)
            .map(|j| {
                let order = &order;
                Box::new(move || {
                    let inner: Vec<Box<dyn FnOnce() + '_>> = (0..3)
                        .map(|i| Box::new(move || order.borrow_mut().push((j, i, current()))) as Box<dyn FnOnce()>)
                        .collect();
                    run_together(3, inner);
                }) as Box<dyn FnOnce()>
            })
            .collect();
        run_together(2, outer);
        let j = |j| (0..3).map(move |i| (j, i, Some(j)));
        assert_eq!(order.into_inner(), j(0).chain(j(1)).collect::<Vec<_>>());
    }
}
