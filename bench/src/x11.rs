//! The apps' windows as the X server sees them: when a top-level window of a given title is
//! mapped (from the server's MapNotify events, so nothing is polled while an app starts), when
//! it first shows more than one colour (its first paint), and closing it the way a window
//! manager's close button does (a WM_DELETE_WINDOW client message; Xvfb has no window manager).

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ChangeWindowAttributesAux, ClientMessageEvent, ConnectionExt, EventMask,
    ImageFormat, MapState, Window,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// How often a mapped window's contents are read while waiting for its first paint.
const PAINT_POLL: Duration = Duration::from_millis(10);

pub struct Display {
    conn: RustConnection,
    root: Window,
    net_wm_name: Atom,
    utf8_string: Atom,
    wm_protocols: Atom,
    wm_delete_window: Atom,
}

fn err(what: &str) -> impl Fn(x11rb::errors::ReplyError) -> String + '_ {
    move |e| format!("X11 {what}: {e}")
}

impl Display {
    /// Connects to `$DISPLAY`, makes the root window plain black (Xvfb's default weave would
    /// show through a window that has not drawn yet and pass for content) and subscribes to
    /// its substructure events (maps of top-level windows).
    pub fn open() -> Result<Display, String> {
        let (conn, screen) =
            x11rb::connect(None).map_err(|e| format!("connect to the X display: {e}"))?;
        let root = conn.setup().roots[screen].root;
        let atom = |name: &[u8]| -> Result<Atom, String> {
            Ok(conn
                .intern_atom(false, name)
                .map_err(|e| e.to_string())?
                .reply()
                .map_err(err("intern_atom"))?
                .atom)
        };
        let display = Display {
            net_wm_name: atom(b"_NET_WM_NAME")?,
            utf8_string: atom(b"UTF8_STRING")?,
            wm_protocols: atom(b"WM_PROTOCOLS")?,
            wm_delete_window: atom(b"WM_DELETE_WINDOW")?,
            root,
            conn,
        };
        display
            .conn
            .change_window_attributes(
                root,
                &ChangeWindowAttributesAux::new()
                    .background_pixel(display.conn.setup().roots[screen].black_pixel)
                    .event_mask(EventMask::SUBSTRUCTURE_NOTIFY),
            )
            .map_err(|e| e.to_string())?
            .check()
            .map_err(err("set up the root window"))?;
        display
            .conn
            .clear_area(false, root, 0, 0, 0, 0)
            .map_err(|e| e.to_string())?
            .check()
            .map_err(err("clear the root window"))?;
        Ok(display)
    }

    /// Forgets the events received so far: call it right before starting what is timed.
    pub fn discard_events(&self) {
        while let Ok(Some(_)) = self.conn.poll_for_event() {}
    }

    fn title(&self, window: Window) -> Option<String> {
        for (property, kind) in [
            (self.net_wm_name, self.utf8_string),
            (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
        ] {
            let reply = self
                .conn
                .get_property(false, window, property, kind, 0, 256)
                .ok()?
                .reply()
                .ok()?;
            if !reply.value.is_empty() {
                return Some(String::from_utf8_lossy(&reply.value).into_owned());
            }
        }
        None
    }

    fn viewable(&self, window: Window) -> bool {
        self.conn
            .get_window_attributes(window)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|a| a.map_state == MapState::VIEWABLE)
    }

    /// The viewable top-level windows titled `title`, now.
    pub fn visible(&self, title: &str) -> Vec<Window> {
        let Some(tree) = self
            .conn
            .query_tree(self.root)
            .ok()
            .and_then(|c| c.reply().ok())
        else {
            return Vec::new();
        };
        tree.children
            .into_iter()
            .filter(|&w| self.viewable(w) && self.title(w).as_deref() == Some(title))
            .collect()
    }

    /// Waits until a top-level window titled `title` is mapped (a MapNotify since the last
    /// [`Display::discard_events`]). `still_waiting` is asked between events; an error from it
    /// (the app died) ends the wait.
    pub fn wait_mapped(
        &self,
        title: &str,
        timeout: Duration,
        mut still_waiting: impl FnMut() -> Result<(), String>,
    ) -> Result<Window, String> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(event) = self
                .conn
                .poll_for_event()
                .map_err(|e| format!("X11 connection: {e}"))?
            {
                if let Event::MapNotify(map) = event
                    && self.title(map.window).as_deref() == Some(title)
                {
                    return Ok(map.window);
                }
            }
            still_waiting()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "no window titled {title:?} was mapped within {timeout:?}"
                ));
            }
            self.wait_readable(Duration::from_millis(5));
        }
    }

    /// Sleeps until the server sends something, at most `max`.
    fn wait_readable(&self, max: Duration) {
        let mut fd = libc::pollfd {
            fd: self.conn.stream().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, owned by this frame, for the duration of the call.
        unsafe { libc::poll(&mut fd, 1, max.as_millis() as i32) };
    }

    /// Whether the window's contents hold more than one colour (the page has painted something
    /// onto the window's plain background). A window that cannot be read yet counts as not.
    pub fn painted(&self, window: Window) -> bool {
        let Some(geometry) = self
            .conn
            .get_geometry(window)
            .ok()
            .and_then(|c| c.reply().ok())
        else {
            return false;
        };
        let Some(image) = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                window,
                0,
                0,
                geometry.width,
                geometry.height,
                !0,
            )
            .ok()
            .and_then(|c| c.reply().ok())
        else {
            return false;
        };
        // 24-bit depth in 32-bit pixels: the fourth byte is padding.
        let mut pixels = image.data.chunks_exact(4).map(|p| [p[0], p[1], p[2]]);
        let Some(first) = pixels.next() else {
            return false;
        };
        pixels.any(|p| p != first)
    }

    /// Waits until [`Display::painted`] says yes.
    pub fn wait_painted(&self, window: Window, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !self.painted(window) {
            if Instant::now() > deadline {
                return Err(format!(
                    "the window showed one colour only for {timeout:?} after it was mapped"
                ));
            }
            std::thread::sleep(PAINT_POLL);
        }
        Ok(())
    }

    /// Asks the window to close, as a window manager's close button does.
    pub fn request_close(&self, window: Window) -> Result<(), String> {
        let event = ClientMessageEvent::new(
            32,
            window,
            self.wm_protocols,
            [self.wm_delete_window, 0, 0, 0, 0],
        );
        self.conn
            .send_event(false, window, EventMask::NO_EVENT, event)
            .map_err(|e| format!("send WM_DELETE_WINDOW: {e}"))?;
        self.conn
            .sync()
            .map_err(|e| format!("send WM_DELETE_WINDOW: {e}"))?;
        Ok(())
    }

    /// Waits until no window titled `title` is viewable.
    pub fn wait_gone(&self, title: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !self.visible(title).is_empty() {
            if Instant::now() > deadline {
                return Err(format!(
                    "a window titled {title:?} was still shown {timeout:?} after it was asked to close"
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}
