//! What the app hands back to the system once its window is closed to the tray. The window's
//! GTK and WebKit objects are freed with it, but three things stay:
//! - WebKit's network process: tauri-runtime-wry keeps the WebContext for the app's lifetime,
//!   and with it that process (35 MiB PSS, release build), though only a page uses it;
//! - the heap glibc keeps once freed;
//! - the pages of the libraries only the window used (WebKit, JavaScriptCore, GTK, the GL
//!   driver), resident in the process. Keep-alive, the tray and notifications touch few of them.
//!
//! Measured with 200 accounts (debug build, Xvfb): 146 MiB of resident file pages with the
//! window; in the tray 95 MiB while the network process lived on and shared WebKit's pages,
//! 65 MiB once it is ended, and the tray's PSS went from 120 MiB (the app and that process) to
//! 71 MiB. What stays is shared with the X server's GL or is a library's relocated data, which
//! only swap could take.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
use tauri::Manager as _;
use tauri::{AppHandle, Runtime};

/// Some seconds after a close, once the window's objects are freed: ends WebKit's network
/// process if no window has been opened since (WebKit starts a new one for the next page, as it
/// does after a crash of that process; the page keeps nothing in it: no cookies, no web
/// storage), returns the free heap (`malloc_trim`) and asks the kernel to reclaim the process's
/// read-only file pages (`MADV_PAGEOUT`, Linux 5.4 and later). They are clean copies of files
/// on disk, so nothing is lost: what the app needs again (the window's libraries, when it is
/// opened) is read back in on first use, from the page cache while the system still holds it
/// there. The kernel reclaims only pages no other process maps, so the network process goes
/// first.
pub fn release_after_close<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = app;
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            // Asked on the main thread, where windows are built, so a window opened meanwhile
            // either exists by then (and keeps its network process) or is built after the end
            // (and starts a new one).
            let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
            let main = app.clone();
            let asked = app.run_on_main_thread(move || {
                let closed = main
                    .get_webview_window(crate::window::MAIN_WINDOW)
                    .is_none();
                let end = closed && !under_webdriver();
                let _ = ended_tx.send(if end { end_network_process() } else { None });
            });
            if asked.is_ok()
                && let Ok(Some(pid)) = ended_rx.await
            {
                wait_for_exit(pid).await;
            }
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
}

/// Whether a WebDriver session drives the app's pages (tauri-driver sets this variable, and
/// tauri-runtime-wry then allows automation). WebKit deletes the automation session when the
/// network process ends, so under WebDriver the process stays and the tests can follow a
/// rebuilt window; e2e `tray_webview.rs` checks the ending without WebDriver.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn under_webdriver() -> bool {
    std::env::var_os("TAURI_WEBVIEW_AUTOMATION").is_some_and(|value| value == "true")
}

/// The name WebKitGTK's network process runs under (`comm`, cut to 15 bytes by the kernel).
#[cfg(any(test, all(target_os = "linux", target_env = "gnu")))]
const NETWORK_PROCESS: &str = "WebKitNetworkPr";

/// Sends SIGTERM to this process's child that runs WebKit's network process; answers its pid.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn end_network_process() -> Option<u32> {
    let me = std::process::id();
    let pid = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| child_of(&stat, me, NETWORK_PROCESS))
                .is_some()
        })?;
    let pid_t = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: kill only sends a signal. The pid was this process's child a moment ago; to be
    // another process's now, the child would have had to exit, be reaped and its pid be handed
    // out again in between, and the kernel hands pids out in turn up to pid_max.
    let sent = unsafe { libc::kill(pid_t, libc::SIGTERM) };
    if sent != 0 {
        return None;
    }
    tracing::debug!(pid, "ended WebKit's network process in the tray");
    Some(pid)
}

/// Waits, at most two seconds, until the process has exited (gone, or a zombie not yet reaped:
/// either way its memory is freed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
async fn wait_for_exit(pid: u32) {
    for _ in 0..40 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) if process_state(&stat) != Some('Z') => {}
            _ => return,
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A `/proc/PID/stat` line's fields after the command name, which is in parentheses and may
/// itself hold spaces and parentheses.
#[cfg(any(test, all(target_os = "linux", target_env = "gnu")))]
fn after_command(stat: &str) -> Option<(&str, std::str::SplitWhitespace<'_>)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    Some((
        stat.get(open + 1..close)?,
        stat.get(close + 1..)?.split_whitespace(),
    ))
}

/// The process's state letter (`R`, `S`, `Z`, …).
#[cfg(any(test, all(target_os = "linux", target_env = "gnu")))]
fn process_state(stat: &str) -> Option<char> {
    after_command(stat)?.1.next()?.chars().next()
}

/// `Some(())` if the `/proc/PID/stat` line is of a child of `parent` named `command`.
#[cfg(any(test, all(target_os = "linux", target_env = "gnu")))]
fn child_of(stat: &str, parent: u32, command: &str) -> Option<()> {
    let (name, mut fields) = after_command(stat)?;
    let _state = fields.next()?;
    let ppid: u32 = fields.next()?.parse().ok()?;
    (name == command && ppid == parent).then_some(())
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
    use super::{NETWORK_PROCESS, child_of, process_state, read_only_file_mapping};

    #[test]
    fn the_network_process_is_found_by_its_name_and_parent() {
        let network = "4242 (WebKitNetworkPr) S 4200 4200 4200 0 -1 4194560 2103 0 0 0 3 1";
        assert_eq!(child_of(network, 4200, NETWORK_PROCESS), Some(()));
        assert_eq!(process_state(network), Some('S'));
        // Another app's network process, the web process, and a name with spaces and parentheses.
        assert_eq!(child_of(network, 4201, NETWORK_PROCESS), None);
        let web = "4243 (WebKitWebProces) S 4200 4200 4200 0 -1 4194560 2103 0 0 0 3 1";
        assert_eq!(child_of(web, 4200, NETWORK_PROCESS), None);
        let odd = "4244 (a (b) c) Z 4200 4200 4200 0 -1 4194560 2103 0 0 0 3 1";
        assert_eq!(process_state(odd), Some('Z'));
        assert_eq!(child_of(odd, 4200, "a (b) c"), Some(()));
        assert_eq!(child_of("garbage", 4200, NETWORK_PROCESS), None);
    }

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
