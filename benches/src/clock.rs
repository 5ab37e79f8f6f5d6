//! The clock `parse-compare` times rounds with, and the process's CPU time (`rls-vs-buddies`).
//!
//! On a shared machine wall-clock time includes every moment another process held the CPU. A
//! thread's CPU time leaves that out, so on Linux rounds are timed with
//! `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, which is exact to the nanosecond (unlike
//! `/proc/thread-self/schedstat`, which only advances at scheduler ticks). Cache and memory
//! bandwidth taken by other processes still count; time the hypervisor steals may count too.

use std::time::{Duration, Instant};

/// What rounds are timed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// CPU time of the calling thread.
    ThreadCpu,
    /// Wall-clock time, where the thread's CPU time cannot be read.
    Wall,
}

impl Clock {
    /// [`Clock::ThreadCpu`] where the platform provides it, else [`Clock::Wall`].
    pub fn best() -> Self {
        if thread_cpu_time().is_some() {
            Clock::ThreadCpu
        } else {
            Clock::Wall
        }
    }

    /// How the clock is described in reports.
    pub fn describe(self) -> &'static str {
        match self {
            Clock::ThreadCpu => "thread CPU time (CLOCK_THREAD_CPUTIME_ID)",
            Clock::Wall => "wall clock",
        }
    }

    /// How long `f` takes by this clock.
    pub fn time(self, f: impl FnOnce()) -> Duration {
        match self {
            Clock::ThreadCpu => {
                let start = thread_cpu_time().unwrap_or_default();
                f();
                thread_cpu_time().unwrap_or_default().saturating_sub(start)
            }
            Clock::Wall => {
                let start = Instant::now();
                f();
                start.elapsed()
            }
        }
    }
}

/// CPU time consumed by the calling thread.
fn thread_cpu_time() -> Option<Duration> {
    cpu_time(CpuClock::Thread)
}

/// CPU time consumed by every thread of this process so far (`CLOCK_PROCESS_CPUTIME_ID`, exact
/// to the nanosecond), or `None` where the platform does not provide it.
///
/// ```
/// let before = benches::clock::process_cpu_time();
/// let after = benches::clock::process_cpu_time();
/// if let (Some(b), Some(a)) = (before, after) {
///     assert!(a >= b);
/// }
/// ```
pub fn process_cpu_time() -> Option<Duration> {
    cpu_time(CpuClock::Process)
}

/// Whose CPU time is read.
#[derive(Debug, Clone, Copy)]
enum CpuClock {
    Process,
    Thread,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn cpu_time(clock: CpuClock) -> Option<Duration> {
    /// `struct timespec` on 64-bit Linux.
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    /// From `<linux/time.h>`.
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

    #[allow(
        unsafe_code,
        reason = "FFI declaration of libc's clock_gettime; std has no CPU clock"
    )]
    // SAFETY: the signature matches clock_gettime(2) on 64-bit Linux: `clockid_t` is `int`,
    // `struct timespec` is two 64-bit fields, the return value is `int`.
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }

    let id = match clock {
        CpuClock::Process => CLOCK_PROCESS_CPUTIME_ID,
        CpuClock::Thread => CLOCK_THREAD_CPUTIME_ID,
    };
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    #[allow(unsafe_code, reason = "calling the declaration above")]
    // SAFETY: `ts` is a valid, writable `Timespec` for the duration of the call, and both
    // clock ids are accepted by every Linux since 2.6.12.
    let rc = unsafe { clock_gettime(id, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    (rc == 0).then(|| Duration::new(secs, nanos))
}

/// CPU time: not available here.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn cpu_time(_clock: CpuClock) -> Option<Duration> {
    None
}
