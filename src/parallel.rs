//! Work spread over the cores with rayon's pool (one pool for the whole run: threads made
//! per phase cost a fresh allocator heap each), results in the items' order.

use rayon::prelude::*;

/// `f` of every item, over the cores when there are at least two shares of `per_thread`
/// items (below that, handing work to other threads costs more than it saves).
pub fn map<T: Sync, R: Send>(
    items: &[T],
    per_thread: usize,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    let per_thread = per_thread.max(1);
    if items.len() < 2 * per_thread || rayon::current_num_threads() == 1 {
        return items.iter().map(f).collect();
    }
    items.par_iter().with_min_len(per_thread).map(f).collect()
}

/// A scoped thread's result; a panic in the thread goes on in the caller.
pub fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            map(&items, 10, |i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        assert_eq!(map(&items[..3], 10, |i| i + 1), [1, 2, 3]);
        assert!(map(&[] as &[u32], 10, |i| *i).is_empty());
    }
}
