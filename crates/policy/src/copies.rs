//! Copies of what another service owns, kept in memory until an event says they changed. The one
//! subtlety is a read that crosses an invalidation: it may carry the old value, so a copy is
//! stored only if its key was not invalidated since its read began. Each invalidation takes the
//! next number of a counter; a read remembers the counter when it begins. A removed key keeps its
//! number for a while (a tombstone), so that one busy key does not make every other read start
//! over; an invalidation by predicate is rare and counts for every key.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causerie_bus::Bus;
use causerie_bus::broadcast::{self, Heard};
use causerie_core::TenantId;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The events after which what a widget's project resolves to (the project, its tenant's status
/// and features, the tenant's privacy policy) may have changed.
pub const WIDGET_PROJECT_CHANGES: [&str; 3] =
    ["accounts.project.changed", "accounts.tenant.updated", "accounts.policy.updated"];

/// Tombstones kept before the old ones (older than a copy may live) are swept.
const TOMBSTONE_SWEEP_AT: usize = 1024;

pub struct Copies<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_age: Duration,
    capacity: usize,
    /// Whether `follow` is subscribed now: until it is, changes go unheard.
    listening: watch::Sender<bool>,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant)>,
    /// The number of the latest invalidation.
    counter: u64,
    /// The latest invalidation that concerned every key.
    floor: u64,
    /// Keys removed one by one: the number of their latest removal, and when.
    tombstones: HashMap<K, (u64, Instant)>,
}

/// Where a read began; given back to `insert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl<K: Eq + Hash + Clone, V: Clone> Copies<K, V> {
    /// Copies older than `max_age` are read again (the bound on staleness when no event arrives);
    /// past `capacity` entries, everything is dropped rather than growing without end.
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        let inner = Inner { entries: HashMap::new(), counter: 0, floor: 0, tombstones: HashMap::new() };
        Self { inner: Mutex::new(inner), max_age, capacity, listening: watch::Sender::new(false) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        inner.entries.get(key).filter(|(_, read_at)| read_at.elapsed() < self.max_age).map(|(value, _)| value.clone())
    }

    /// Call before reading from the owner.
    pub fn generation(&self) -> Generation {
        Generation(self.inner.lock().map(|inner| inner.counter).unwrap_or(0))
    }

    /// Keeps `value`, read from the owner after `generation()` answered `since`, unless its key
    /// was invalidated meanwhile.
    pub fn insert(&self, key: K, value: V, since: Generation) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let removed_since = inner.tombstones.get(&key).is_some_and(|(number, _)| *number > since.0);
        if inner.floor > since.0 || removed_since {
            return;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.clear();
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    /// Drops the copy of `key`.
    pub fn remove(&self, key: &K) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.counter += 1;
        let number = inner.counter;
        inner.entries.remove(key);
        if inner.tombstones.len() >= TOMBSTONE_SWEEP_AT {
            // A read older than a copy's lifetime may then be kept: it lives at most that long.
            let max_age = self.max_age;
            inner.tombstones.retain(|_, (_, at)| at.elapsed() < max_age);
            if inner.tombstones.len() >= TOMBSTONE_SWEEP_AT {
                inner.floor = number;
                inner.tombstones.clear();
            }
        }
        inner.tombstones.insert(key.clone(), (number, Instant::now()));
    }

    /// Drops every copy `stale` picks.
    pub fn invalidate(&self, stale: impl Fn(&K, &V) -> bool) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.counter += 1;
        inner.floor = inner.counter;
        inner.entries.retain(|key, (value, _)| !stale(key, value));
    }

    pub fn clear(&self) {
        self.invalidate(|_, _| true);
    }

    /// Whether changes are heard now: a readiness check for a replica serving these copies.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// Returns once `follow` is subscribed, so that a change made afterwards is heard.
    pub async fn listening(&self) {
        // The sender lives in `self`, so the wait cannot end on a closed channel.
        let _ = self.listening.subscribe().wait_for(|listening| *listening).await;
    }
}

impl<K: Eq + Hash + Clone + Send + 'static, V: Clone + Send + 'static> Copies<K, V> {
    /// Drops a tenant's copies (`tenant_of` tells whose a copy is) whenever an event with one of
    /// `routing_keys` is heard about that tenant, and everything when events may have been
    /// missed, until `shutdown`. Spawn it on the service's task tracker.
    pub async fn follow(
        self: Arc<Self>,
        bus: Bus,
        routing_keys: &[&str],
        tenant_of: impl Fn(&K, &V) -> TenantId + Send + Sync,
        shutdown: CancellationToken,
    ) {
        broadcast::listen(
            bus,
            routing_keys,
            move |heard| match heard {
                Heard::Event(envelope) => self.invalidate(|key, value| tenant_of(key, value) == envelope.tenant_id),
                Heard::MayHaveMissedEvents => {
                    self.clear();
                    self.listening.send_replace(true);
                }
                Heard::Unsubscribed => {
                    self.listening.send_replace(false);
                }
            },
            shutdown,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_crossed_an_invalidation_is_not_kept() {
        let copies: Copies<&str, u32> = Copies::new(Duration::from_secs(60), 10);
        let since = copies.generation();
        copies.invalidate(|key, _| *key == "other");
        copies.insert("project", 1, since);
        assert_eq!(copies.get(&"project"), None);

        let since = copies.generation();
        copies.insert("project", 2, since);
        assert_eq!(copies.get(&"project"), Some(2));
    }

    #[test]
    fn invalidation_drops_only_what_it_picks() {
        let copies: Copies<&str, u32> = Copies::new(Duration::from_secs(60), 10);
        let since = copies.generation();
        copies.insert("a", 1, since);
        copies.insert("b", 2, since);
        copies.invalidate(|_, value| *value == 1);
        assert_eq!((copies.get(&"a"), copies.get(&"b")), (None, Some(2)));
        let since = copies.generation();
        copies.remove(&"b");
        copies.insert("b", 3, since);
        copies.insert("a", 4, since);
        assert_eq!((copies.get(&"a"), copies.get(&"b")), (Some(4), None), "a removal invalidates its key only");
    }

    #[test]
    fn many_removals_still_refuse_every_read_they_crossed() {
        let copies: Copies<u32, u32> = Copies::new(Duration::from_secs(60), 10);
        let since = copies.generation();
        for key in 0..2 * TOMBSTONE_SWEEP_AT as u32 {
            copies.remove(&key);
        }
        copies.insert(1, 1, since);
        copies.insert(1_000_000, 1, since);
        assert_eq!((copies.get(&1), copies.get(&1_000_000)), (None, None));
        copies.insert(1, 2, copies.generation());
        assert_eq!(copies.get(&1), Some(2));
    }

    #[test]
    fn old_copies_and_overflow_are_read_again() {
        let copies: Copies<u32, u32> = Copies::new(Duration::ZERO, 10);
        copies.insert(1, 1, copies.generation());
        assert_eq!(copies.get(&1), None);

        let copies: Copies<u32, u32> = Copies::new(Duration::from_secs(60), 2);
        for key in 0..3 {
            copies.insert(key, key, copies.generation());
        }
        assert_eq!((copies.get(&0), copies.get(&2)), (None, Some(2)));
    }
}
