//! Helpers that let end-to-end tests read like specs: launch the real Lanyard binary through
//! tauri-driver, look at it as a person would, and leave nothing running afterwards.
//!
//! Every [`App`] gets its own tauri-driver on free ports and its own empty data, config and
//! cache directories, so a test never sees another test's state. The tests must run inside a
//! display and a D-Bus session with a Secret Service (`make e2e` arranges both with
//! `xvfb-run -a` and `scripts/with-secret-service.sh`).

mod actions;
pub mod driver;
pub mod sim;
pub mod tray_host;
pub mod x11;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

pub use actions::{AccountForm, clipboard_targets, clipboard_text, eventually, tid};
use driver::TauriDriver;
pub use sim::Sim;

/// How long tauri-driver may take to start the app and open a WebDriver session: under a second
/// here, idle or loaded; the rest is margin for a slower machine.
const SESSION_TIMEOUT: Duration = Duration::from_secs(90);

/// A session start slower than this is reported, so a CI log shows a launch drifting towards
/// [`SESSION_TIMEOUT`] before it fails.
const SLOW_SESSION: Duration = Duration::from_secs(20);

/// How long the UI may take to show something after it was asked to.
const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// The repository root (the e2e crate lives in `<root>/e2e`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// The app binary under test: `$LANYARD_APP_BINARY`, else the debug build of the main
/// workspace. The tests never build it themselves, so they test exactly what `make` built.
pub fn app_binary() -> PathBuf {
    let path = std::env::var_os("LANYARD_APP_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/lanyard-desktop"));
    let path = std::path::absolute(&path).expect("an absolute path to the app binary");
    assert!(
        path.is_file(),
        "app binary {} not found: build it first (`make test` does), or set LANYARD_APP_BINARY",
        path.display()
    );
    path
}

/// Where tests leave screenshots and logs for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = repo_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/e2e-artifacts");
    dir
}

/// The directories an app instance may write to, all inside one temporary directory.
pub struct Sandbox {
    root: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("lanyard-e2e-")
            .tempdir()
            .expect("a temporary directory");
        for dir in ["data", "home", "xdg-data", "xdg-config", "xdg-cache"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("create sandbox directory");
        }
        Sandbox { root }
    }

    /// `LANYARD_DATA_DIR` of the app under test.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The app's home directory (launch at login writes `~/.config/autostart` there).
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The `lanyard` CLI on this sandbox's data dir (and the same Secret Service as the app).
    pub fn cli(&self) -> Cli {
        Cli {
            data_dir: self.data_dir(),
        }
    }

    /// The environment that confines the app (and WebKit's own storage) to the sandbox.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("LANYARD_DATA_DIR", self.data_dir()),
            ("HOME", self.home()),
            ("XDG_DATA_HOME", self.root.path().join("xdg-data")),
            ("XDG_CONFIG_HOME", self.root.path().join("xdg-config")),
            ("XDG_CACHE_HOME", self.root.path().join("xdg-cache")),
        ]
    }
}

impl Sandbox {
    /// Starts the app binary directly in this sandbox, as a person starts it: no WebDriver.
    pub fn start_app_directly(&self) -> DirectApp {
        DirectApp {
            child: self.spawn_app("start the app"),
        }
    }

    /// Starts the app binary a second time, directly, in this sandbox and session, and returns
    /// how it exited (or `None` if it was still running after `timeout`).
    pub fn launch_second_instance(&self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut second = self.spawn_app("start a second instance");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = second.try_wait().expect("poll the second instance") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Still running: it did not hand over. Stop it politely so nothing is left behind.
        driver::terminate(&mut second, Duration::from_secs(5));
        None
    }

    fn spawn_app(&self, what: &str) -> std::process::Child {
        Command::new(app_binary())
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(what)
    }
}

/// The app started without WebDriver ([`Sandbox::start_app_directly`]); stopped with SIGTERM
/// when dropped, so a failed test leaves no instance behind to take the next one's launch.
pub struct DirectApp {
    child: std::process::Child,
}

impl DirectApp {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the app is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the app").is_none()
    }
}

impl Drop for DirectApp {
    fn drop(&mut self) {
        driver::terminate(&mut self.child, Duration::from_secs(15));
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// The `lanyard` CLI of the build under test, on one data dir.
pub struct Cli {
    data_dir: PathBuf,
}

impl Cli {
    fn binary() -> PathBuf {
        app_binary()
            .parent()
            .expect("the app binary has a directory")
            .join("lanyard")
    }

    /// Runs `lanyard --data-dir DIR ARGS...` with `stdin` (one answer a line) and returns its
    /// stdout; panics with its stderr unless it exits 0.
    pub fn run(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = Command::new(Self::binary())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the lanyard CLI");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("answer the CLI");
        let output = child.wait_with_output().expect("wait for the CLI");
        assert!(
            output.status.success(),
            "lanyard {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }
}

impl Cli {
    /// Adds an account without logging in (it shows as signed out).
    pub fn add_signed_out(&self, service: &str, endpoint: &str, user: &str) {
        self.add(service, endpoint, user, "--no-login", "");
    }

    /// Adds an account and logs it in with `password` (given on stdin, never in argv).
    pub fn add_logged_in(&self, service: &str, endpoint: &str, user: &str, password: &str) {
        let stdin = format!("{password}\n");
        self.add(service, endpoint, user, "--password-stdin", &stdin);
    }

    fn add(&self, service: &str, endpoint: &str, user: &str, how: &str, stdin: &str) {
        let args = ["add", service, "--user", user, "--endpoint", endpoint, how];
        self.run(&args, stdin);
    }
}

/// One running instance of the desktop app, driven through WebDriver.
pub struct App {
    client: Client,
    // Declared after `client`: dropped (and so stopped) only once the session is gone.
    driver: TauriDriver,
    sandbox: Sandbox,
}

impl App {
    /// Launches the app in a fresh sandbox and waits until its UI has loaded the services.
    pub async fn launch() -> App {
        Self::launch_with(Sandbox::new(), &[]).await
    }

    /// Launches the app with extra environment variables (e.g. `LANG`).
    pub async fn launch_with(sandbox: Sandbox, extra_env: &[(&str, &str)]) -> App {
        let mut env: Vec<(String, String)> = sandbox
            .env()
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.display().to_string()))
            .collect();
        env.extend(
            extra_env
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string())),
        );

        let driver = TauriDriver::start(&env).await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": app_binary() }),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = driver.url();
        // A session that never starts (the app exited at once, say) would otherwise hang here.
        let started = Instant::now();
        let client = match tokio::time::timeout(SESSION_TIMEOUT, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => panic!(
                "tauri-driver could not start the app: {error}; see {}",
                driver.log().display()
            ),
            Err(_) => panic!(
                "the app's WebDriver session did not start within {SESSION_TIMEOUT:?}; see {}",
                driver.log().display()
            ),
        };
        let took = started.elapsed();
        if took > SLOW_SESSION {
            // Written past the test harness's capture, which would hide it in a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "slow launch: the app's WebDriver session took {:.1} s to start",
                took.as_secs_f64()
            );
        }

        let app = App {
            client,
            driver,
            sandbox,
        };
        app.wait_for("[data-testid=service-item]").await;
        app.collect_page_errors().await;
        app
    }

    /// Remembers the page's uncaught errors from now on, for [`App::page_errors`].
    async fn collect_page_errors(&self) {
        let script = r#"
            window.__lanyardErrors = [];
            window.addEventListener("error", (e) => window.__lanyardErrors.push(String(e.message)));
            window.addEventListener("unhandledrejection", (e) =>
                window.__lanyardErrors.push("unhandled rejection: " + JSON.stringify(e.reason)));
            const original = console.error;
            console.error = (...args) => {
                window.__lanyardErrors.push(args.map(String).join(" "));
                original(...args);
            };
        "#;
        let _ = self.client.execute(script, vec![]).await;
    }

    /// The uncaught errors and `console.error`s of the page since launch.
    pub async fn page_errors(&self) -> Vec<String> {
        self.client
            .execute("return window.__lanyardErrors || []", vec![])
            .await
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The title the window manager shows for the app's window.
    pub async fn window_title(&self) -> String {
        native_window_title("lanyard-desktop")
    }

    /// The page's own `<title>`.
    pub async fn document_title(&self) -> String {
        self.client.title().await.expect("read the document title")
    }

    /// The service names listed in the sidebar, top to bottom.
    pub async fn sidebar_services(&self) -> Vec<String> {
        self.texts("[data-testid=sidebar] [data-testid=service-name]")
            .await
    }

    /// Selects a service in the sidebar by its display name.
    pub async fn open_service(&self, name: &str) {
        let names = self
            .client
            .find_all(Locator::Css("[data-testid=service-name]"))
            .await
            .expect("find services");
        for item in names {
            if item.text().await.expect("service name").trim() == name {
                item.click().await.expect("click service");
                self.wait_for("[data-testid=service-panel] [data-testid=empty-state]")
                    .await;
                return;
            }
        }
        panic!("no service named {name:?} in the sidebar");
    }

    /// Selects the overview of all accounts.
    pub async fn open_overview(&self) {
        self.client
            .find(Locator::Css("[data-testid=overview-item]"))
            .await
            .expect("find the overview item")
            .click()
            .await
            .expect("click the overview item");
    }

    /// The heading of the empty state on screen.
    pub async fn empty_state_title(&self) -> String {
        self.text("[data-testid=empty-state-title]").await
    }

    /// All text of the empty state on screen.
    pub async fn empty_state_text(&self) -> String {
        self.text("[data-testid=empty-state]").await
    }

    /// The text of the first element matching `css`, waiting for it to appear.
    pub async fn text(&self, css: &str) -> String {
        let element = self.wait_for(css).await;
        element
            .text()
            .await
            .unwrap_or_else(|error| panic!("read text of {css}: {error}"))
    }

    /// The texts of all elements matching `css`, trimmed. An element the page removes between
    /// the search and the reading of its text (a toast that timed out) no longer matches, and
    /// is left out.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
        {
            match element.text().await {
                Ok(text) => texts.push(text.trim().to_string()),
                Err(error) if error.is_stale_element_reference() => {}
                Err(error) => panic!("read text of {css}: {error}"),
            }
        }
        texts
    }

    /// Waits until an element matching `css` exists.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                let shot = self.screenshot("failure").await;
                panic!(
                    "{css} did not appear within {UI_TIMEOUT:?}: {error}; the window then: {}; page errors: {:?}",
                    shot.display(),
                    self.page_errors().await
                )
            }
        }
    }

    /// Saves what the window shows as `target/e2e-artifacts/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // What the DOM says is not on screen until WebKit painted it (and a dialog finished
        // fading in): two frames and a moment.
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 requestAnimationFrame(() => requestAnimationFrame(() => done(null)));",
                vec![],
            )
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.expect("take a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// The app's own process (a descendant of this test's tauri-driver running the app binary),
    /// found whether or not it has a window.
    pub fn app_pid(&self) -> u32 {
        let binary = app_binary();
        driver::descendants(self.driver.pid())
            .into_iter()
            .find(|pid| {
                std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
            })
            .expect("the app's process below tauri-driver")
    }

    /// The running processes below the app's own (WebKit's), as `(pid, name)`.
    pub fn app_children(&self) -> Vec<(u32, String)> {
        driver::running_descendants(self.app_pid())
    }

    /// The app's WebKit web processes (the ones that run the window's page).
    pub fn web_processes(&self) -> Vec<u32> {
        self.app_children()
            .into_iter()
            .filter(|(_, name)| name.starts_with("WebKitWebProc"))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Closes the window as a window manager's close button does and waits until it is gone
    /// from the screen. The page goes with it, so its errors are checked first.
    pub async fn close_to_tray(&self) {
        let errors = self.page_errors().await;
        assert!(errors.is_empty(), "the page reported errors: {errors:?}");
        let windows = x11::titled_windows("lanyard-desktop");
        assert_eq!(windows.len(), 1, "one window: {windows:?}");
        x11::request_close(windows[0]);
        self.eventually("the window to close", UI_TIMEOUT, || async {
            x11::titled_windows("lanyard-desktop")
                .is_empty()
                .then_some(())
        })
        .await;
    }

    /// Opens the window closed to the tray again as a person can without a tray host: a second
    /// launch hands over to this app and exits, the window shows again with a new page, and the
    /// WebDriver session follows that page.
    pub async fn reopen_by_a_second_launch(&self) {
        let second = self.sandbox.launch_second_instance(Duration::from_secs(20));
        assert!(
            second.is_some_and(|status| status.success()),
            "the second launch hands over and exits"
        );
        self.wait_until_the_window_shows().await;
        self.follow_the_rebuilt_window().await;
    }

    /// Waits until the app's one window is on the screen again (opened from the tray).
    pub async fn wait_until_the_window_shows(&self) {
        self.eventually("the window to show again", UI_TIMEOUT, || async {
            (x11::titled_windows("lanyard-desktop").len() == 1).then_some(())
        })
        .await;
    }

    /// After the window was closed to the tray (its page destroyed) and opened again (a new
    /// page): points the WebDriver session at the new page and waits until it has loaded.
    /// WebKit lists the rebuilt page as a new browsing context of the same automation session,
    /// since it shares the app's one WebContext.
    pub async fn follow_the_rebuilt_window(&self) {
        let handle = self
            .eventually(
                "the rebuilt window's page under WebDriver",
                UI_TIMEOUT,
                || async {
                    let handles = self.client.windows().await.ok()?;
                    match handles.as_slice() {
                        [handle] => Some(handle.clone()),
                        _ => None,
                    }
                },
            )
            .await;
        self.client
            .switch_to_window(handle)
            .await
            .expect("switch to the rebuilt window");
        self.wait_for("[data-testid=service-item]").await;
        self.collect_page_errors().await;
    }

    /// Quits the app as the system would (SIGTERM) and waits until it has exited. The
    /// WebDriver session is gone with it: end the test with [`App::forget`].
    pub async fn terminate_app(&self) {
        let window = x11::visible_windows("lanyard-desktop")
            .into_iter()
            .next()
            .expect("the app's window");
        let output = Command::new("xdotool")
            .args(["getwindowpid", &window.to_string()])
            .output()
            .expect("run xdotool");
        let pid: u32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("the app's pid");
        driver::signal_term(pid);
        let deadline = Instant::now() + Duration::from_secs(15);
        while driver::is_running(pid) {
            assert!(
                Instant::now() < deadline,
                "the app did not exit within 15 s of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What tauri-driver, WebKitWebDriver and the app wrote to their stderr so far.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.driver.log()).unwrap_or_default()
    }

    /// Stops tauri-driver after the app exited on its own.
    pub fn forget(self) {
        let App {
            client,
            driver,
            sandbox,
        } = self;
        drop(client);
        drop(driver);
        drop(sandbox);
    }

    /// Ends the WebDriver session (which closes the app) and stops tauri-driver. A page that
    /// threw an uncaught error (or logged one) meanwhile fails the test: that is a bug even
    /// when the screen looked right.
    pub async fn quit(self) {
        let errors = self.page_errors().await;
        let App {
            client,
            driver,
            sandbox,
        } = self;
        client.close().await.expect("end the WebDriver session");
        drop(driver);
        drop(sandbox);
        assert!(errors.is_empty(), "the page reported errors: {errors:?}");
    }
}

/// The title of the one visible top-level window whose WM_CLASS is `class`, as X11 reports it.
fn native_window_title(class: &str) -> String {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let ids = run_xdotool(&["search", "--onlyvisible", "--class", class]);
        let titles: Vec<String> = ids
            .lines()
            .filter(|id| !id.trim().is_empty())
            .map(|id| {
                run_xdotool(&["getwindowname", id.trim()])
                    .trim()
                    .to_string()
            })
            .filter(|title| !title.is_empty())
            .collect();
        match titles.as_slice() {
            [title] => return title.clone(),
            [] if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            _ => panic!("expected one visible {class} window, found titles {titles:?}"),
        }
    }
}

fn run_xdotool(args: &[&str]) -> String {
    let output = Command::new("xdotool")
        .args(args)
        .output()
        .expect("run xdotool (apt-get install xdotool)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
