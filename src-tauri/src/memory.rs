//! What the app hands back to the system once its window is closed to the tray. The window's
//! GTK and WebKit objects are freed with it, but glibc keeps the freed heap, and the pages of the
//! libraries only the window used (WebKit, JavaScriptCore, GTK, the GL driver) stay resident in
//! the process. Keep-alive, the tray and notifications touch few of them. Measured with 200
//! accounts (debug build, Xvfb): 146 MiB of resident file pages with the window, 95 MiB in the
//! tray; what stays is shared with another process (WebKit's network process, the X server's GL)
//! or is a library's relocated data, which only swap could take.

/// Some seconds after a close, once the window's objects are freed: returns the free heap
/// (`malloc_trim`) and asks the kernel to reclaim the process's read-only file pages
/// (`MADV_PAGEOUT`, Linux 5.4 and later). They are clean copies of files on disk, so nothing is
/// lost: what the app needs again (the window's libraries, when it is opened) is read back in on
/// first use, from the page cache while the system still holds it there.
pub fn release_after_close() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tauri::async_runtime::spawn(async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let _ = tauri::async_runtime::spawn_blocking(|| {
            // SAFETY: malloc_trim only returns free heap pages to the system; it touches no
            // memory that is in use.
            unsafe { libc::malloc_trim(0) };
            let advised = page_out_file_mappings();
            tracing::debug!(advised_kib = advised / 1024, "released memory in the tray");
        })
        .await;
    });
}

/// Asks the kernel to reclaim the pages of every read-only mapping of a regular file; answers
/// how many bytes of mappings it asked about (the kernel skips pages other processes map too).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn page_out_file_mappings() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut asked = 0;
    for (start, end) in maps.lines().filter_map(read_only_file_mapping) {
        // SAFETY: MADV_PAGEOUT changes no content: a read-only file page that is reclaimed is
        // read back from the file when touched again. The range is one of this process's
        // mappings as the kernel listed it; a range unmapped since then makes madvise fail
        // with ENOMEM, which is ignored like every other failure (older kernels: EINVAL).
        let done =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
        if done == 0 {
            asked += end - start;
        }
    }
    asked
}

/// The address range of a `/proc/self/maps` line that maps a regular file read-only (not
/// writable, so no page of it is the process's own: heap, stacks, copy-on-write data and
/// shared memory all stay).
#[cfg(any(test, all(target_os = "linux", target_env = "gnu")))]
fn read_only_file_mapping(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let (_offset, _device, inode) = (fields.next()?, fields.next()?, fields.next()?);
    let path = fields.next()?;
    let regular_file = inode != "0"
        && path.starts_with('/')
        && !path.starts_with("/dev/")
        && !path.starts_with("/SYSV")
        && !path.starts_with("/memfd:")
        && fields.next().is_none(); // " (deleted)", or a path with spaces: leave it be
    if !regular_file || perms.as_bytes().get(1) != Some(&b'-') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::read_only_file_mapping;

    #[test]
    fn only_read_only_mappings_of_regular_files_are_paged_out() {
        let lib = "7f1c2a000000-7f1c2a200000 r-xp 00001000 fe:01 1835 /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1";
        assert_eq!(
            read_only_file_mapping(lib),
            Some((0x7f1c2a000000, 0x7f1c2a200000))
        );
        let data = "7f1c2b000000-7f1c2b010000 r--p 00201000 fe:01 1835 /usr/lib/libgtk-3.so.0";
        assert!(read_only_file_mapping(data).is_some());
        for kept in [
            // Writable: copy-on-write data of a library.
            "7f1c2b010000-7f1c2b020000 rw-p 00211000 fe:01 1835 /usr/lib/libgtk-3.so.0",
            // Anonymous, the heap, the stack.
            "7f1c2c000000-7f1c2c100000 rw-p 00000000 00:00 0",
            "55d0c0000000-55d0c0400000 rw-p 00000000 00:00 0 [heap]",
            "7ffd10000000-7ffd10021000 rw-p 00000000 00:00 0 [stack]",
            "7ffd10100000-7ffd10102000 r-xp 00000000 00:00 0 [vdso]",
            // Shared memory and devices.
            "7f1c2d000000-7f1c2d100000 rw-s 00000000 00:01 32770 /SYSV00000000 (deleted)",
            "7f1c2e000000-7f1c2e001000 r--s 00000000 00:05 12 /dev/dri/renderD128",
            "7f1c2f000000-7f1c2f001000 r--s 00000000 00:01 1026 /memfd:wayland-cursor (deleted)",
            // A file deleted since it was mapped.
            "7f1c30000000-7f1c30001000 r--p 00000000 fe:01 99 /tmp/old.so (deleted)",
        ] {
            assert_eq!(read_only_file_mapping(kept), None, "{kept}");
        }
    }
}
