//! Keeping the first few of many values by their order, not by when they arrive: what detection keeps
//! of a key (clients, regions, event ids, people, addresses) must not depend on how the input was read.

/// Inserts `v` into the first `n` (sorted, filled) slots of `slots`, keeping them sorted by `cmp`;
/// when they are all filled the largest falls out (`v` too, if it is the largest).
pub(crate) fn insert_sorted<T: Copy>(slots: &mut [T], n: usize, v: T, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    let pos = slots[..n].partition_point(|x| cmp(x, &v) == std::cmp::Ordering::Less);
    if pos == slots.len() {
        return;
    }
    let end = n.min(slots.len() - 1);
    for i in (pos + 1..=end).rev() {
        slots[i] = slots[i - 1];
    }
    slots[pos] = v;
}

/// Keeps the `max` smallest values of a sorted list (what is kept does not depend on arrival order);
/// the list holds each value once, found by binary search, so a long list costs no search per value.
pub fn keep_smallest<T: Ord + Copy>(list: &mut Vec<T>, v: T, max: usize) {
    if let Err(pos) = list.binary_search(&v)
        && pos < max
    {
        list.insert(pos, v);
        list.truncate(max);
    }
}

/// [`keep_smallest`] with an ordering.
pub fn keep_smallest_by<T: Copy + PartialEq>(
    list: &mut Vec<T>,
    v: T,
    max: usize,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    if list.contains(&v) {
        return;
    }
    let pos = list.partition_point(|x| cmp(x, &v) == std::cmp::Ordering::Less);
    if pos < max {
        list.insert(pos, v);
        list.truncate(max);
    }
}
