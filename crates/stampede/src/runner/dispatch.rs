//! Which user type the n-th user is: fixed-count types first, then the weighted types
//! interleaved so that every prefix of the swarm is as close to the weights as it can be
//! (smooth weighted round-robin, as nginx balances upstreams).

use crate::user::UserTypeInfo;

#[derive(Debug, Clone)]
pub(crate) struct Dispatch {
    /// The fixed-count users, interleaved, in the order they are started.
    fixed: Vec<usize>,
    /// One cycle of weighted types; user `fixed.len() + k` is `cycle[k % cycle.len()]`.
    cycle: Vec<usize>,
}

impl Dispatch {
    /// `types` in plan order; `active[i]` is false for types left out (not picked on the
    /// command line, or without tasks after tag filters).
    pub fn new(types: &[UserTypeInfo], active: &[bool]) -> Self {
        let fixed_counts: Vec<(usize, u64)> = types
            .iter()
            .enumerate()
            .filter(|(i, t)| active[*i] && t.arrivals.is_none() && t.fixed_count.is_some())
            .map(|(i, t)| (i, t.fixed_count.unwrap_or(0)))
            .collect();
        let total_fixed: u64 = fixed_counts.iter().map(|(_, n)| n).sum();
        let fixed = smooth_round_robin(&fixed_counts, total_fixed as usize);

        let mut weighted: Vec<(usize, u64)> = types
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                active[*i] && t.arrivals.is_none() && t.fixed_count.is_none() && t.weight > 0
            })
            .map(|(i, t)| (i, t.weight as u64))
            .collect();
        let g = weighted.iter().fold(0, |g, (_, w)| gcd(g, *w));
        for (_, w) in &mut weighted {
            *w /= g.max(1);
        }
        let cycle_len: u64 = weighted.iter().map(|(_, w)| w).sum();
        let cycle = smooth_round_robin(&weighted, cycle_len as usize);
        Self { fixed, cycle }
    }

    /// The type of the user in `slot` (0-based), or `None` when only fixed-count types
    /// exist and they are all placed.
    pub fn type_for_slot(&self, slot: u64) -> Option<usize> {
        let slot = slot as usize;
        if slot < self.fixed.len() {
            return Some(self.fixed[slot]);
        }
        if self.cycle.is_empty() {
            return None;
        }
        Some(self.cycle[(slot - self.fixed.len()) % self.cycle.len()])
    }

    /// Users of each of `n_types` types among the first `n` users.
    pub fn counts_for(&self, n: u64, n_types: usize) -> Vec<u64> {
        let mut counts = vec![0u64; n_types];
        let fixed = (n as usize).min(self.fixed.len());
        for &t in &self.fixed[..fixed] {
            counts[t] += 1;
        }
        let rest = n as usize - fixed;
        if !self.cycle.is_empty() && rest > 0 {
            let (full, part) = (rest / self.cycle.len(), rest % self.cycle.len());
            for (k, &t) in self.cycle.iter().enumerate() {
                counts[t] += full as u64 + u64::from(k < part);
            }
        }
        counts
    }

    /// The most users this dispatch can place, if bounded (only fixed-count types).
    pub fn capacity(&self) -> Option<u64> {
        self.cycle.is_empty().then_some(self.fixed.len() as u64)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn smooth_round_robin(weights: &[(usize, u64)], len: usize) -> Vec<usize> {
    let total: i64 = weights.iter().map(|(_, w)| *w as i64).sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        for (c, (_, w)) in current.iter_mut().zip(weights) {
            *c += *w as i64;
        }
        let best = (0..weights.len())
            .max_by_key(|&i| (current[i], -(i as i64)))
            .expect("weights is not empty");
        current[best] -= total;
        out.push(weights[best].0);
    }
    out
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
}
