//! A second thread that does part of the event loop's work ahead of its time.
//!
//! The simulator is one event loop, and most of its work is nodes receiving frames (accepting
//! the envelopes in them and building the next frame), links opening sessions (bringing the
//! two shared sets up to date, the first frame) and nodes writing (an Automerge change and a
//! signature). A frame or an opening reads only the holdings of the link's ends, the link's
//! session or kept sets, and the arena; a write only what its specification holds. When no
//! event before it can touch those (the engine checks the events queued ahead,
//! `Sim::lend_ahead`), the work gives the same answer whenever it is done, so the engine lends
//! it to this thread early and takes the answer back when the event comes up in order: the
//! run, its trace and every figure are exactly those of the sequential loop (a test compares
//! the traces), while the two cores share the work.
//!
//! The helper holds what the job moved out of the engine and a shared reference to the arena
//! it started the job with, and reads no other until the job ends. The engine changes the
//! arena (to add an envelope or relabel one) in a copy no job reads (`Sim::change_arena`):
//! meanwhile it [`Helper::withhold`]s the arena, so that no job starts, and then
//! [`Helper::publish`]es the newest copy; it never waits for the job running. A job not
//! started when the engine needs its answer is done by the engine itself ([`Helper::take`]),
//! which, while the thread is on the job it needs, does the queued job needed soonest.

use crate::arena::Arena;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;

/// How long the engine spins waiting for the answer of a job the helper is on, in polls,
/// before it blocks: the job is under way, so the wait is short, and blocking would add a
/// wake-up (a system call and tens of microseconds) to the engine's path.
const SPIN_POLLS: u32 = 20_000;

/// How long the helper spins on an empty queue before it sleeps, in polls (a few
/// microseconds). The queue is empty most of the time (in a city's month the thread found work
/// for about a third of it), and a longer spin (it was [`SPIN_POLLS`], about a millisecond)
/// only burnt a core: on this shared two-core machine, at a load of 6 to 10, it took the
/// processor from the engine, whose path is the run's. Measured on one county's month
/// (`--only 520102 --days 30 --seed 1`, load 9-16, two runs each): 20,000 polls 13.2 and
/// 12.6 s of CPU, 200 polls 9.2 and 9.5 s, the engine doing 72-75 k of the 157 k jobs lent
/// instead of 122-139 k; the run the same.
const IDLE_SPIN_POLLS: u32 = 200;

/// What the helper thread and the engine share.
struct Shared<J> {
    state: Mutex<State<J>>,
    wake: Condvar,
    /// Jobs queued (read without the lock while spinning).
    queued: AtomicUsize,
    /// The engine withholds the arena (mirrors `State::arena` being `None`, read without the
    /// lock while spinning).
    withheld: AtomicBool,
    /// The helper sleeps on `wake` (set and cleared under the lock): only then does the
    /// engine pay for a wake-up.
    sleeping: AtomicBool,
}

struct State<J> {
    /// Jobs not started, by when the engine will need them (then by key): the thread takes
    /// the one needed last, leaving those needed soon to the engine, which would otherwise
    /// wait for one the thread had just started.
    queue: VecDeque<(i64, u64, J)>,
    /// The arena to start jobs over; `None` while withheld.
    arena: Option<Arc<Arena>>,
    stop: bool,
}

/// The engine's handle on the helper thread: jobs of type `J` in, answers of type `D` out,
/// each keyed by the number of the event it belongs to.
pub struct Helper<J, D> {
    shared: Arc<Shared<J>>,
    answers: mpsc::Receiver<(u64, D)>,
    /// Answers received or worked out while waiting for another (`true`: by the engine).
    ready: Vec<(u64, D, bool)>,
    work: fn(&Arena, J) -> D,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static, D: Send + 'static> Helper<J, D> {
    /// Starts the thread, which does `work` over `arena` for each job lent to it.
    pub fn spawn(arena: Arc<Arena>, work: fn(&Arena, J) -> D) -> Helper<J, D> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                arena: Some(arena),
                stop: false,
            }),
            wake: Condvar::new(),
            queued: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            withheld: AtomicBool::new(false),
        });
        let (send, answers) = mpsc::channel();
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("lingong-sim-helper".into())
            .spawn(move || serve(&theirs, work, &send))
            .expect("the helper thread starts");
        Helper {
            shared,
            answers,
            ready: Vec::new(),
            work,
            thread: Some(thread),
        }
    }

    /// Lends `job` (for event `key`, which the engine reaches at time `due`) to the thread.
    pub fn lend(&mut self, key: u64, due: i64, job: J) {
        let mut state = self.shared.state.lock().expect("helper lock");
        let pos = state
            .queue
            .partition_point(|&(d, k, _)| (d, k) < (due, key));
        state.queue.insert(pos, (due, key, job));
        self.shared.queued.fetch_add(1, Ordering::Release);
        self.wake(state);
    }

    /// Keeps the thread from starting a job until [`Helper::publish`]; the job running, if
    /// any, goes on over the arena it started with.
    pub fn withhold(&mut self) {
        let mut state = self.shared.state.lock().expect("helper lock");
        state.arena = None;
        self.shared.withheld.store(true, Ordering::Release);
    }

    /// Lets the thread start jobs again, over `arena`.
    pub fn publish(&mut self, arena: &Arc<Arena>) {
        let mut state = self.shared.state.lock().expect("helper lock");
        state.arena = Some(Arc::clone(arena));
        self.shared.withheld.store(false, Ordering::Release);
        self.wake(state);
    }

    /// Wakes the thread if it sleeps (it sets `sleeping` under the lock `state` holds).
    fn wake(&self, state: std::sync::MutexGuard<'_, State<J>>) {
        let sleeping = self.shared.sleeping.load(Ordering::Relaxed);
        drop(state);
        if sleeping {
            self.shared.wake.notify_one();
        }
    }

    /// The answer for event `key`: done by the thread, or here over `arena` if the thread has
    /// not started it (then `true`). While the thread is on it, the engine does the queued job
    /// needed soonest rather than wait idle.
    pub fn take(&mut self, key: u64, arena: &Arena) -> (D, bool) {
        if let Some(pos) = self.ready.iter().position(|(k, _, _)| *k == key) {
            let (_, done, by_engine) = self.ready.swap_remove(pos);
            return (done, by_engine);
        }
        if let Some((_, job)) = self.unqueue(|queue| queue.iter().position(|(_, k, _)| *k == key)) {
            return ((self.work)(arena, job), true);
        }
        let mut polls = 0u32;
        loop {
            let next = if polls < SPIN_POLLS {
                polls += 1;
                match self.answers.try_recv() {
                    Ok(answer) => answer,
                    Err(mpsc::TryRecvError::Empty) => {
                        let soonest = if self.shared.queued.load(Ordering::Acquire) > 0 {
                            self.unqueue(|queue| (!queue.is_empty()).then_some(0))
                        } else {
                            None
                        };
                        match soonest {
                            Some((k, job)) => self.ready.push((k, (self.work)(arena, job), true)),
                            None => std::hint::spin_loop(),
                        }
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => panic!("the helper thread stopped"),
                }
            } else {
                self.answers.recv().expect("the helper thread stopped")
            };
            if next.0 == key {
                return (next.1, false);
            }
            self.ready.push((next.0, next.1, false));
        }
    }

    /// Takes the queued job at the position `find` gives, if any, with its key.
    fn unqueue(
        &self,
        find: impl FnOnce(&VecDeque<(i64, u64, J)>) -> Option<usize>,
    ) -> Option<(u64, J)> {
        let mut state = self.shared.state.lock().expect("helper lock");
        let pos = find(&state.queue)?;
        let (_, key, job) = state.queue.remove(pos).expect("found");
        self.shared.queued.fetch_sub(1, Ordering::Release);
        Some((key, job))
    }
}

impl<J, D> Drop for Helper<J, D> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread's loop: take the next job while the arena is not withheld, do it, send the
/// answer.
fn serve<J, D>(shared: &Shared<J>, work: fn(&Arena, J) -> D, answers: &mpsc::Sender<(u64, D)>) {
    loop {
        let mut polls = 0u32;
        let (key, job, arena) = loop {
            if polls < IDLE_SPIN_POLLS
                && (shared.queued.load(Ordering::Acquire) == 0
                    || shared.withheld.load(Ordering::Acquire))
            {
                polls += 1;
                std::hint::spin_loop();
                continue;
            }
            let mut state = shared.state.lock().expect("helper lock");
            if state.stop {
                return;
            }
            if let Some(arena) = state.arena.clone()
                && let Some((_, key, job)) = state.queue.pop_back()
            {
                shared.queued.fetch_sub(1, Ordering::Release);
                break (key, job, arena);
            }
            if polls < IDLE_SPIN_POLLS {
                // Another thread took the job first: poll again.
                continue;
            }
            shared.sleeping.store(true, Ordering::Relaxed);
            state = shared.wake.wait(state).expect("helper lock");
            shared.sleeping.store(false, Ordering::Relaxed);
            drop(state);
        };
        let answer = work(&arena, job);
        drop(arena);
        if answers.send((key, answer)).is_err() {
            return;
        }
    }
}
