//! Copies of what another service owns, kept in memory until an event says they changed. The one
//! subtlety is a read that crosses an invalidation: it may carry the old value, so a copy is
//! stored only if no invalidation happened since its read began (the generation counter).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causerie_bus::Bus;
use causerie_bus::broadcast::{self, Heard};
use causerie_core::TenantId;
use tokio_util::sync::CancellationToken;

/// The events after which what a widget's project resolves to (the project, its tenant's status
/// and features, the tenant's privacy policy) may have changed.
pub const WIDGET_PROJECT_CHANGES: [&str; 3] =
    ["accounts.project.changed", "accounts.tenant.updated", "accounts.policy.updated"];

pub struct Copies<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_age: Duration,
    capacity: usize,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant)>,
    generation: u64,
}

/// Where a read began; given back to `insert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl<K: Eq + Hash, V: Clone> Copies<K, V> {
    /// Copies older than `max_age` are read again (the bound on staleness when no event arrives);
    /// past `capacity` entries, everything is dropped rather than growing without end.
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner { entries: HashMap::new(), generation: 0 }), max_age, capacity }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        inner.entries.get(key).filter(|(_, read_at)| read_at.elapsed() < self.max_age).map(|(value, _)| value.clone())
    }

    /// Call before reading from the owner.
    pub fn generation(&self) -> Generation {
        Generation(self.inner.lock().map(|inner| inner.generation).unwrap_or(u64::MAX))
    }

    /// Keeps `value`, read from the owner after `generation()` answered `since`, unless something
    /// was invalidated meanwhile.
    pub fn insert(&self, key: K, value: V, since: Generation) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.generation != since.0 {
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
        inner.generation = inner.generation.wrapping_add(1);
        inner.entries.remove(key);
    }

    /// Drops every copy `stale` picks.
    pub fn invalidate(&self, stale: impl Fn(&K, &V) -> bool) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.generation = inner.generation.wrapping_add(1);
        inner.entries.retain(|key, (value, _)| !stale(key, value));
    }

    pub fn clear(&self) {
        self.invalidate(|_, _| true);
    }
}

impl<K: Eq + Hash + Send + 'static, V: Clone + Send + 'static> Copies<K, V> {
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
                Heard::MayHaveMissedEvents => self.clear(),
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
        copies.insert("a", 3, since);
        assert_eq!((copies.get(&"a"), copies.get(&"b")), (None, None), "a removal is an invalidation too");
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
