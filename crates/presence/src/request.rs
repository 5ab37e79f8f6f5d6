//! What the cores hand to the transaction layer and what comes back: requests with a handle,
//! how a request failed, and the retry schedule after a failure.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sip_parse::{Message, MessageBuilder};

use crate::Result;

/// Names one request a core produced, until its final response or failure is reported back.
///
/// ```
/// use presence::RequestHandle;
/// assert_ne!(RequestHandle::from_raw(1), RequestHandle::from_raw(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestHandle(u64);

impl RequestHandle {
    /// A handle from its number (for tests and drivers that keep handles in their own maps).
    pub fn from_raw(n: u64) -> Self {
        Self(n)
    }

    /// The handle's number.
    pub fn into_raw(self) -> u64 {
        self.0
    }
}

/// A request to send in a new client transaction. Report its final response with the core's
/// `handle_response(now, handle, &response)`, or its failure (timeout, transport error) with
/// `handle_failure(now, handle)`.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// The handle to report back with.
    pub handle: RequestHandle,
    /// The request, ready for `sip_txn::TransactionLayer::send_request`.
    pub message: Message,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// A final non-2xx response with this status code.
    Status(u16),
    /// No response: the transaction timed out (RFC 3261 Timer B/F) or the transport failed.
    NoResponse,
}

/// Hands out fresh [`RequestHandle`]s.
#[derive(Debug, Default)]
pub(crate) struct Handles(u64);

impl Handles {
    pub(crate) fn next(&mut self) -> RequestHandle {
        self.0 = self.0.wrapping_add(1);
        RequestHandle(self.0)
    }
}

/// A response to `request` (RFC 3261 §8.2.6) with `extra` headers, parsed so it can go
/// straight to `sip_txn::TransactionLayer::send_response`.
pub(crate) fn response(
    request: &Message,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, &str)],
) -> Result<Message> {
    let mut b = MessageBuilder::response_to(request, code, reason, to_tag)?;
    for (name, value) in extra {
        b = b.header(name, value)?;
    }
    Ok(Message::parse(b.try_build()?)?)
}

/// Exponential backoff after repeated failures, as RFC 5626 §4.5 does for flow recovery:
/// `min(max, base · 2^(failures-1))`, then spread over its upper half so that many
/// subscriptions failing together (a server restart) do not retry together. The spread is
/// derived from `salt`, not from a random source, so tests are deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure (upper bound).
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 30 s doubling up to 30 min, RFC 5626 §4.5's base and maximum wait times.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max: Duration::from_secs(1800),
        }
    }
}

impl Backoff {
    /// The wait before the retry after `failures` (≥ 1) consecutive failures: within
    /// `[bound/2, bound]` where `bound = min(max, base · 2^(failures-1))`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use presence::Backoff;
    /// let b = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(60) };
    /// let third = b.delay(3, 7);
    /// assert!(third >= Duration::from_secs(20) && third <= Duration::from_secs(40));
    /// assert!(b.delay(50, 7) <= Duration::from_secs(60));
    /// ```
    pub fn delay(&self, failures: u32, salt: u64) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let bound = self
            .base
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(Duration::from_millis(2));
        // A cheap integer mix (splitmix64's finaliser) of salt and attempt, into [0, 1000).
        let mut z = salt ^ u64::from(failures).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let permille = u32::try_from(z % 1000).unwrap_or(0);
        bound / 2 + (bound / 2) * permille / 1000
    }
}

/// One deadline per key, ordered: the cores keep each record's deadline in the record and
/// mirror it here, so the next wakeup is the first entry and no scan is ever needed.
#[derive(Debug)]
pub(crate) struct Deadlines<K> {
    set: BTreeSet<(Instant, K)>,
}

impl<K> Default for Deadlines<K> {
    fn default() -> Self {
        Self {
            set: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Copy> Deadlines<K> {
    /// Replaces `key`'s deadline `slot` (as kept in its record) with `at`.
    pub(crate) fn set(&mut self, key: K, slot: &mut Option<Instant>, at: Option<Instant>) {
        if let Some(old) = slot.take() {
            self.set.remove(&(old, key));
        }
        if let Some(at) = at {
            self.set.insert((at, key));
            *slot = Some(at);
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.set.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest key due at `now`; the caller clears its slot.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<K> {
        match self.set.first() {
            Some((at, _)) if *at <= now => self.set.pop_first().map(|(_, k)| k),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds_and_caps() {
        let b = Backoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(1800),
        };
        for salt in 0..200 {
            for (failures, bound) in [(1, 30), (2, 60), (3, 120), (7, 1800), (40, 1800)] {
                let d = b.delay(failures, salt);
                let bound = Duration::from_secs(bound);
                assert!(d >= bound / 2 && d <= bound, "{failures} {salt}: {d:?}");
            }
        }
        // The salt spreads retries: not all 200 subscriptions pick the same instant.
        let distinct: BTreeSet<_> = (0..200).map(|s| b.delay(1, s)).collect();
        assert!(distinct.len() > 100);
    }

    #[test]
    fn deadlines_replace_and_pop_in_order() {
        #[allow(clippy::disallowed_methods)] // reason: any origin will do for the test
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let (mut a, mut b) = (None, None);
        d.set(1u32, &mut a, Some(t0 + Duration::from_secs(5)));
        d.set(2u32, &mut b, Some(t0 + Duration::from_secs(3)));
        d.set(1u32, &mut a, Some(t0 + Duration::from_secs(1)));
        assert_eq!(d.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(d.pop_due(t0), None);
        assert_eq!(d.pop_due(t0 + Duration::from_secs(4)), Some(1));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(4)), Some(2));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(9)), None);
        d.set(2u32, &mut b, None);
        assert_eq!(d.next(), None);
    }
}
