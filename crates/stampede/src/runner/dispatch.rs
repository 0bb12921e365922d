//! Which user type the n-th user is, in the order Locust's `UsersDispatcher` picks them:
//! fixed-count types first, then the weighted types, each group interleaved by Locust's
//! Kullback-Leibler generator over the types sorted by name. Matching it user for user
//! means a Locust worker under a Stampede master gets the counts a Locust master would
//! send, and a local run starts its types in the order Locust's would.

use std::sync::{Arc, Mutex};

use crate::user::UserTypeInfo;

/// Locust's `_kl_generator`: each pick is the type whose next user lowers the divergence
/// from the weights most; ties go by (count + weight, weight, name), as Python's heap of
/// tuples orders them.
#[derive(Debug, Clone)]
struct Kl {
    /// (divergence diff, picks + weight, weight, name, type index)
    heap: Vec<(f64, f64, f64, String, usize)>,
}

impl Kl {
    fn new(mut types: Vec<(usize, String, f64)>) -> Self {
        types.retain(|(_, _, w)| *w > 0.0);
        let heap = types
            .into_iter()
            .map(|(i, name, x)| (x * (x / (x + 1.0)).log2(), x + 1.0, x, name, i))
            .collect();
        Self { heap }
    }

    fn next(&mut self) -> Option<usize> {
        let best = (0..self.heap.len()).min_by(|&a, &b| {
            let (a, b) = (&self.heap[a], &self.heap[b]);
            a.0.total_cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.total_cmp(&b.2))
                .then_with(|| a.3.cmp(&b.3))
        })?;
        let e = &mut self.heap[best];
        let (x, weight) = (e.1, e.2);
        e.0 = weight * (x / (x + 1.0)).log2();
        e.1 = x + 1.0;
        Some(e.4)
    }
}

/// The weighted users' sequence, generated as far as it has been asked for.
#[derive(Debug)]
struct Sequence {
    kl: Kl,
    types: Vec<u32>,
}

impl Sequence {
    fn grow_to(&mut self, len: usize) {
        while self.types.len() < len {
            match self.kl.next() {
                Some(t) => self.types.push(t as u32),
                None => return,
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Dispatch {
    /// The fixed-count users, interleaved, in the order they are started.
    fixed: Vec<usize>,
    /// Whether any weighted type exists (else only `fixed` users can be placed).
    weighted: bool,
    /// Shared by clones: one sequence per plan, grown on demand (bounded by the user cap).
    sequence: Arc<Mutex<Sequence>>,
}

impl Dispatch {
    /// `types` in plan order; `active[i]` is false for types left out (not picked on the
    /// command line, or without tasks after tag filters).
    pub fn new(types: &[UserTypeInfo], active: &[bool]) -> Self {
        let eligible = |i: usize, t: &UserTypeInfo| active[i] && t.arrivals.is_none();
        let mut fixed_counts: Vec<(usize, String, f64)> = types
            .iter()
            .enumerate()
            .filter(|(i, t)| eligible(*i, t) && t.fixed_count.is_some())
            .map(|(i, t)| (i, t.name.clone(), t.fixed_count.unwrap_or(0) as f64))
            .collect();
        fixed_counts.sort_by(|a, b| a.1.cmp(&b.1));
        let total_fixed: u64 = types
            .iter()
            .enumerate()
            .filter(|(i, t)| eligible(*i, t))
            .filter_map(|(_, t)| t.fixed_count)
            .sum();
        let mut fixed_kl = Kl::new(fixed_counts);
        let fixed = (0..total_fixed).filter_map(|_| fixed_kl.next()).collect();

        let mut weighted: Vec<(usize, String, f64)> = types
            .iter()
            .enumerate()
            .filter(|(i, t)| eligible(*i, t) && t.fixed_count.is_none() && t.weight > 0)
            .map(|(i, t)| (i, t.name.clone(), f64::from(t.weight)))
            .collect();
        weighted.sort_by(|a, b| a.1.cmp(&b.1));
        Self {
            fixed,
            weighted: !weighted.is_empty(),
            sequence: Arc::new(Mutex::new(Sequence {
                kl: Kl::new(weighted),
                types: Vec::new(),
            })),
        }
    }

    /// The type of the user in `slot` (0-based), or `None` when only fixed-count types
    /// exist and they are all placed.
    pub fn type_for_slot(&self, slot: u64) -> Option<usize> {
        let slot = slot as usize;
        if slot < self.fixed.len() {
            return Some(self.fixed[slot]);
        }
        if !self.weighted {
            return None;
        }
        let k = slot - self.fixed.len();
        let mut seq = self.sequence.lock().unwrap_or_else(|p| p.into_inner());
        seq.grow_to(k + 1);
        seq.types.get(k).map(|&t| t as usize)
    }

    /// Users of each of `n_types` types among the first `n` users.
    pub fn counts_for(&self, n: u64, n_types: usize) -> Vec<u64> {
        self.counts_by_worker(n, n_types, 1).remove(0)
    }

    /// Users of each of `n_types` types on each of `workers` workers when `n` users run:
    /// user `k` goes to worker `k % workers`, as Locust's dispatcher cycles its (sorted)
    /// workers.
    pub fn counts_by_worker(&self, n: u64, n_types: usize, workers: usize) -> Vec<Vec<u64>> {
        let workers = workers.max(1);
        let mut counts = vec![vec![0u64; n_types]; workers];
        let n = self.capacity().map_or(n, |c| c.min(n)) as usize;
        let fixed = n.min(self.fixed.len());
        for (k, &t) in self.fixed[..fixed].iter().enumerate() {
            counts[k % workers][t] += 1;
        }
        if n > fixed {
            let mut seq = self.sequence.lock().unwrap_or_else(|p| p.into_inner());
            seq.grow_to(n - fixed);
            for (k, &t) in seq.types[..n - fixed].iter().enumerate() {
                counts[(fixed + k) % workers][t as usize] += 1;
            }
        }
        counts
    }

    /// The most users this dispatch can place, if bounded (only fixed-count types).
    pub fn capacity(&self) -> Option<u64> {
        (!self.weighted).then_some(self.fixed.len() as u64)
    }
}

/// Locust's worker order (`UsersDispatcher._sort_workers`): by id, then each worker's
/// index among the workers of its host (the id's part before `_`) first, so that users are
/// spread over machines before they double up on one.
pub(crate) fn locust_worker_order(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    let mut per_host: std::collections::HashMap<String, usize> = Default::default();
    let mut keyed: Vec<(usize, String)> = ids
        .into_iter()
        .map(|id| {
            let host = id.split('_').next().unwrap_or("").to_owned();
            let n = per_host.entry(host).or_default();
            *n += 1;
            (*n - 1, id)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, weight: u32, fixed: Option<u64>) -> UserTypeInfo {
        UserTypeInfo {
            name: name.into(),
            weight,
            fixed_count: fixed,
            tasks: vec![],
            sequential: false,
            arrivals: None,
        }
    }

    #[test]
    fn eighty_twenty_split_holds_for_every_prefix_of_five() {
        let d = Dispatch::new(
            &[info("Visitor", 80, None), info("ReturningUser", 20, None)],
            &[true, true],
        );
        assert_eq!(d.counts_for(10, 2), vec![8, 2]);
        assert_eq!(d.counts_for(5000, 2), vec![4000, 1000]);
        assert_eq!(d.type_for_slot(0), Some(0));
        assert_eq!(d.counts_for(1, 2), vec![1, 0]);
    }

    #[test]
    fn fixed_counts_come_first() {
        let d = Dispatch::new(
            &[info("A", 1, None), info("Admin", 1, Some(2))],
            &[true, true],
        );
        assert_eq!(d.type_for_slot(0), Some(1));
        assert_eq!(d.type_for_slot(1), Some(1));
        assert_eq!(d.type_for_slot(2), Some(0));
        assert_eq!(d.counts_for(5, 2), vec![3, 2]);
        let only_fixed = Dispatch::new(&[info("Admin", 1, Some(2))], &[true]);
        assert_eq!(only_fixed.capacity(), Some(2));
        assert_eq!(only_fixed.type_for_slot(2), None);
    }

    #[test]
    fn workers_are_ordered_across_hosts_first() {
        let ids = ["b_2", "a_1", "a_2", "b_1", "c_1"].map(String::from);
        assert_eq!(
            super::locust_worker_order(ids.into_iter()),
            ["a_1", "b_1", "c_1", "a_2", "b_2"]
        );
    }
}
