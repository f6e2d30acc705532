//! The allocator the simulator's binaries use: mimalloc, told to keep the memory it frees.
//!
//! A run allocates and frees small buffers (frames, envelopes, record states) millions of
//! times, and glibc's malloc was a fifth of the profile. mimalloc by default hands freed pages
//! back to the system a second after they empty ("purging"); a long run then spends a tenth
//! of the engine's time in page faults that zero the same memory again and in the purge
//! itself. [`keep_freed_memory`] turns purging off. Only speed and the resident size depend on
//! it: the peak stays what the run needs at its largest.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (`include/mimalloc.h` of the
/// mimalloc sources vendored by `libmimalloc-sys` 0.1.49, the version Cargo.lock pins):
/// "memory purging is delayed by N milli seconds; use 0 for immediate purging or -1 for no
/// purging at all".
const MI_OPTION_PURGE_DELAY: i32 = 15;

#[allow(unsafe_code)]
mod ffi {
    unsafe extern "C" {
        // `void mi_option_set(mi_option_t option, long value)`, exported by the mimalloc
        // library that `libmimalloc-sys` builds and links.
        pub fn mi_option_set(option: i32, value: std::ffi::c_long);
        // `long mi_option_get(mi_option_t option)`.
        #[cfg(test)]
        pub fn mi_option_get(option: i32) -> std::ffi::c_long;
    }

    /// Sets a mimalloc option (any value is valid for the options this module sets).
    pub fn set(option: i32, value: std::ffi::c_long) {
        // SAFETY: a plain C call with integer arguments; mimalloc reads options atomically.
        unsafe { mi_option_set(option, value) }
    }

    #[cfg(test)]
    pub fn get(option: i32) -> std::ffi::c_long {
        // SAFETY: as above.
        unsafe { mi_option_get(option) }
    }
}

/// Tells mimalloc never to hand freed memory back to the system (call first thing in `main`
/// of a binary whose global allocator is [`MiMalloc`]).
pub fn keep_freed_memory() {
    ffi::set(MI_OPTION_PURGE_DELAY, -1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // The option at that number has the purge delay's default (1000 ms in mimalloc 3's
        // `src/options.c`); after the call it reads -1.
        assert_eq!(super::ffi::get(super::MI_OPTION_PURGE_DELAY), 1000);
        super::keep_freed_memory();
        assert_eq!(super::ffi::get(super::MI_OPTION_PURGE_DELAY), -1);
    }
}
