//! The app's window as X11 sees it: found by its WM_CLASS, and asked to close the way a
//! window manager asks (a WM_DELETE_WINDOW client message) — Xvfb has no window manager.

use std::process::Command;

use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask, ImageFormat};
use x11rb::wrapper::ConnectionExt as _;

/// The ids of the visible top-level windows of `class`.
pub fn visible_windows(class: &str) -> Vec<u32> {
    let output = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--class", class])
        .output()
        .expect("run xdotool (apt-get install xdotool)");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// The ids of the visible top-level windows of `class` that have a title of their own: the
/// app's windows, without the helper windows GTK maps under the same class (untitled, or
/// named after the program, as `class` is).
pub fn titled_windows(class: &str) -> Vec<u32> {
    visible_windows(class)
        .into_iter()
        .filter(|window| {
            Command::new("xdotool")
                .args(["getwindowname", &window.to_string()])
                .output()
                .is_ok_and(|output| {
                    let title = String::from_utf8_lossy(&output.stdout);
                    !title.trim().is_empty() && title.trim() != class
                })
        })
        .collect()
}

/// Sends WM_DELETE_WINDOW to the window, as the close button of a window manager would.
pub fn request_close(window: u32) {
    let (conn, _screen) = x11rb::connect(None).expect("connect to the X display");
    let protocols = conn
        .intern_atom(false, b"WM_PROTOCOLS")
        .expect("intern WM_PROTOCOLS")
        .reply()
        .expect("WM_PROTOCOLS")
        .atom;
    let delete = conn
        .intern_atom(false, b"WM_DELETE_WINDOW")
        .expect("intern WM_DELETE_WINDOW")
        .reply()
        .expect("WM_DELETE_WINDOW")
        .atom;
    let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, window, EventMask::NO_EVENT, event)
        .expect("send WM_DELETE_WINDOW");
    conn.sync().expect("flush the X connection");
}

/// How many different colours the window's pixels show: a page that has painted its text and
/// controls shows hundreds (anti-aliased edges), an empty or unpainted one a handful.
pub fn distinct_colours(window: u32) -> usize {
    let (conn, _screen) = x11rb::connect(None).expect("connect to the X display");
    let geometry = conn
        .get_geometry(window)
        .expect("ask the window's geometry")
        .reply()
        .expect("the window's geometry");
    let image = conn
        .get_image(
            ImageFormat::Z_PIXMAP,
            window,
            0,
            0,
            geometry.width,
            geometry.height,
            u32::MAX,
        )
        .expect("ask the window's pixels")
        .reply()
        .expect("the window's pixels");
    // Depth 24 in 32 bits per pixel, as Xvfb's "-screen 0 WxHx24" gives.
    let colours: std::collections::HashSet<&[u8]> = image
        .data
        .chunks_exact(4)
        .map(|pixel| &pixel[..3])
        .collect();
    colours.len()
}

/// Watches the session bus for desktop notifications (calls to
/// `org.freedesktop.Notifications.Notify`), whether or not a notification daemon runs.
pub struct NotificationWatch {
    child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl NotificationWatch {
    pub fn start() -> NotificationWatch {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let child = Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(log.reopen().expect("reopen the log"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run dbus-monitor (apt-get install dbus)");
        // The monitor must be registered before anything is sent.
        std::thread::sleep(std::time::Duration::from_millis(500));
        NotificationWatch { child, log }
    }

    /// Everything the monitor saw so far (summaries and bodies appear as quoted strings).
    pub fn seen(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for NotificationWatch {
    fn drop(&mut self) {
        crate::driver::terminate(&mut self.child, std::time::Duration::from_secs(5));
    }
}
