//! The chunker's allocation policy: tree-sitter allocates through mimalloc (the process's
//! global allocator in `weft`), freed memory goes back to the OS promptly outside bulk
//! scans, and the heap stays on 4 KiB pages.

/// Points tree-sitter's C allocations at mimalloc, once, before the first parser exists.
///
/// A parse allocates and frees hundreds of thousands of small subtrees; under glibc malloc
/// with several chunking threads that was 10-15% of the indexing CPU (arena locking and
/// `malloc_consolidate`). Every tree-sitter object in the process is made by a parser this
/// module creates, so nothing is ever freed by an allocator other than the one that made it.
pub(crate) fn use_fast_allocator() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: runs once, before any tree-sitter object is allocated (every parser is
        // created by `new_parser`, after this), and mimalloc's functions are thread-safe
        // drop-ins for malloc/calloc/realloc/free.
        unsafe {
            tree_sitter::set_allocator(
                Some(libmimalloc_sys::mi_malloc),
                Some(libmimalloc_sys::mi_calloc),
                Some(libmimalloc_sys::mi_realloc),
                Some(libmimalloc_sys::mi_free),
            );
        }
    });
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (`libmimalloc-sys` has no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// `mi_option_allow_thp` in mimalloc v3's `mi_option_t`.
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;
/// mimalloc's own purge delay (ms), kept while bulk chunking runs.
const BULK_PURGE_DELAY_MS: std::ffi::c_long = 1000;
/// Bulk chunking passes running now ([`BulkChunking`]).
static BULK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn set_purge_delay(ms: std::ffi::c_long) {
    // SAFETY: sets one of mimalloc's global options; any value is valid for this option
    // and mimalloc reads it atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) };
}

/// The process's memory policy; call first thing in `main` (the daemon, the desktop shell):
/// the heap stays on 4 KiB pages ([`no_transparent_huge_pages`]) and freed memory goes back
/// to the OS at once outside bulk chunking ([`return_freed_memory_promptly`]).
pub fn configure_memory() {
    no_transparent_huge_pages();
    return_freed_memory_promptly();
}

/// How long mimalloc keeps freed memory before it returns it to the OS.
///
/// Outside bulk chunking, freed memory goes back at once ([`return_freed_memory_promptly`]):
/// a daemon's allocations come in bursts on short-lived threads (LanceDB reads and
/// compactions on tokio's blocking pool, searches), and with mimalloc's default delay of
/// 1 s each burst stayed resident (index benchmark: core RSS at the end 669 → 448 MB). While
/// a [`BulkChunking`] guard lives, the default delay is back: parsers free whole trees
/// between files and re-use the pages at once; with immediate purging during the scan as
/// well, one benchmark run measured the keyword phase at 12.9 MB/s against 15.4 before.
fn return_freed_memory_promptly() {
    if BULK.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        set_purge_delay(0);
    }
}

/// Held by a bulk chunking pass (a workspace scan): see [`return_freed_memory_promptly`].
#[must_use = "the bulk allocation policy lasts as long as the guard"]
pub struct BulkChunking(());

impl BulkChunking {
    /// Starts a bulk pass.
    pub fn begin() -> Self {
        if BULK.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            set_purge_delay(BULK_PURGE_DELAY_MS);
        }
        BulkChunking(())
    }
}

impl Drop for BulkChunking {
    fn drop(&mut self) {
        if BULK.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            set_purge_delay(0);
        }
    }
}

/// Keeps the process's memory on 4 KiB pages: no transparent huge pages (THP).
///
/// mimalloc v3 asks for huge pages on its arenas (`madvise(MADV_HUGEPAGE)`), and on a
/// kernel in THP `madvise` mode with the default `khugepaged/max_ptes_none` (511) a 2 MiB
/// region with a single live page can be collapsed into a whole huge page. Measured with
/// the index benchmark (`weft-loadtest index`, the 373 MB vendor corpus): 44–82 MB of the
/// core's anonymous memory were huge pages, and without them the core's peak RSS went from
/// 300 to 266 MB in the keyword phase and from 389 to 248 MB at the end, at the same
/// indexing and search speed. It must run first thing in `main`: mimalloc's own switch only
/// affects arenas reserved after it, so the process-wide `PR_SET_THP_DISABLE` covers the
/// arena mimalloc reserved before `main`. Child processes inherit the flag (the Python
/// workers measured the same with and without it).
fn no_transparent_huge_pages() {
    // SAFETY: sets one of mimalloc's global options; 0 is a valid value and mimalloc reads
    // it atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0) };
    // A kernel without the flag (before 3.15) returns EINVAL: the process then only uses
    // more memory, so the result is not checked.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes an integer flag and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
