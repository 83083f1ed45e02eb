//! Cache hints for walks that jump between key states: issued a few steps ahead, their misses
//! overlap instead of following one another.

/// Asks for the memory at `p` to be brought into the cache, without waiting for it: walks that jump
/// between states issue it a few steps ahead, so their cache misses overlap.
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch`] for every cache line of `v` (a key's state and an origin each span several).
pub fn prefetch_all<T>(v: &T) {
    let p = (v as *const T).cast::<u8>();
    for offset in (0..std::mem::size_of::<T>()).step_by(64) {
        prefetch(p.wrapping_add(offset));
    }
}
