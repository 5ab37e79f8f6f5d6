//! The transaction table: a slab whose ids carry a generation, so a stale id (a timer-heap entry
//! or a user's key of a transaction that ended) is told apart from a live one in O(1), without a
//! hash probe.

use std::mem::size_of;

/// Values in reusable slots. An id is `generation << 32 | index`; removing a value bumps its
/// slot's generation, so every id handed out for that slot before no longer matches. Freed
/// slots are reused before the table grows, so it holds at most as many slots as the peak
/// number of live values.
///
/// A generation is 32 bits: an id could alias a later value only after 2³² reuses of its slot,
/// while the layer's timer heap drops stale ids long before (see `compact_timers`).
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// Indexes of vacant slots, the most recently freed last (reused first: warm in cache).
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

fn split(id: u64) -> (usize, u32) {
    // Truncation intended: the low half is the index, the high half the generation.
    ((id & u64::from(u32::MAX)) as usize, (id >> 32) as u32)
}

impl<T> Slab<T> {
    /// How many values are stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of one slot.
    pub(crate) fn slot_size() -> usize {
        size_of::<Slot<T>>()
    }

    /// How many slots exist, vacant or not: the table's footprint.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The id the next [`insert`](Self::insert) will return, or `None` when 2³² slots are in
    /// use (more than any memory holds).
    pub(crate) fn next_id(&self) -> Option<u64> {
        let index = match self.free.last() {
            Some(&i) => i,
            None => u32::try_from(self.slots.len()).ok()?,
        };
        let generation = self
            .slots
            .get(index as usize)
            .map_or(0, |slot| slot.generation);
        Some(u64::from(generation) << 32 | u64::from(index))
    }

    /// Stores `value` under [`next_id`](Self::next_id) and returns that id (`None`, and nothing
    /// stored, when it is `None`).
    pub(crate) fn insert(&mut self, value: T) -> Option<u64> {
        let id = self.next_id()?;
        let (index, _) = split(id);
        match self.slots.get_mut(index) {
            Some(slot) => {
                self.free.pop();
                slot.value = Some(value);
            }
            None => self.slots.push(Slot {
                generation: 0,
                value: Some(value),
            }),
        }
        self.len += 1;
        Some(id)
    }

    /// The value of a live id.
    pub(crate) fn get(&self, id: u64) -> Option<&T> {
        let (index, generation) = split(id);
        self.slots
            .get(index)
            .filter(|slot| slot.generation == generation)
            .and_then(|slot| slot.value.as_ref())
    }

    /// The value of a live id, mutably.
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let (index, generation) = split(id);
        self.slots
            .get_mut(index)
            .filter(|slot| slot.generation == generation)
            .and_then(|slot| slot.value.as_mut())
    }

    /// Takes the value of a live id out; the id (and every earlier one of its slot) goes stale.
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let (index, generation) = split(id);
        let slot = self
            .slots
            .get_mut(index)
            .filter(|slot| slot.generation == generation)?;
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        // `index` came from a `u32`, so it fits back.
        self.free.push(index as u32);
        self.len -= 1;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_miss_and_slots_are_reused() {
        let mut s = Slab::default();
        let a = s.insert("a").unwrap();
        let b = s.insert("b").unwrap();
        assert_eq!((s.get(a), s.get(b), s.len()), (Some(&"a"), Some(&"b"), 2));
        assert_eq!(s.remove(a), Some("a"));
        assert_eq!(s.remove(a), None);
        assert_eq!((s.get(a), s.len()), (None, 1));
        let next = s.next_id().unwrap();
        let c = s.insert("c").unwrap();
        assert_eq!(c, next);
        // Same slot, new generation: the old id stays dead.
        assert_eq!(c & 0xffff_ffff, a & 0xffff_ffff);
        assert_ne!(c, a);
        assert!(s.get_mut(a).is_none());
        assert_eq!((s.get(a), s.get(c)), (None, Some(&"c")));
        assert_eq!(s.slots(), 2);
        // An id whose index was never handed out.
        assert_eq!(s.get(7), None);
        assert_eq!(s.remove(u64::MAX), None);
    }

    #[test]
    fn slots_stay_at_the_peak_of_live_values() {
        let mut s = Slab::default();
        let mut ids = Vec::new();
        for wave in 0..100 {
            ids.extend((0..1_000).map(|i| s.insert(wave * 1_000 + i).unwrap()));
            for id in ids.drain(..) {
                assert!(s.remove(id).is_some());
            }
        }
        assert_eq!((s.len(), s.slots()), (0, 1_000));
    }
}
