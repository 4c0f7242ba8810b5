//! What a person does in the window (fill the add form, sign in, answer a captcha, switch the
//! language), as steps the tests can name; and the X clipboard, read the way another program
//! would read it.

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::elements::Element;

use crate::App;

/// How long a step may take before the test gives up on it (a login goes over loopback HTTP).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Waits until `check` gives a value (polled every 200 ms), or panics saying `what`: for a
/// test with no window to ask through (`App::eventually` otherwise).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A `[data-testid="…"]` selector (test ids may hold `/`, as account names do).
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// The add-account form as a person fills it in.
pub struct AccountForm<'a> {
    pub service: &'a str,
    pub user: &'a str,
    pub endpoint: &'a str,
    /// `field-opt-<key>` values (choices are picked, text is typed).
    pub options: Vec<(&'a str, &'a str)>,
    pub name: Option<&'a str>,
    pub remember_password: bool,
}

impl<'a> AccountForm<'a> {
    pub fn new(service: &'a str, user: &'a str, endpoint: &'a str) -> Self {
        AccountForm {
            service,
            user,
            endpoint,
            options: Vec::new(),
            name: None,
            remember_password: false,
        }
    }

    pub fn option(mut self, key: &'a str, value: &'a str) -> Self {
        self.options.push((key, value));
        self
    }

    pub fn remember_password(mut self) -> Self {
        self.remember_password = true;
        self
    }
}

impl App {
    /// The element with this test id, once it is there.
    pub async fn by_id(&self, id: &str) -> Element {
        self.wait_for(&tid(id)).await
    }

    /// The element with this test id, scrolled to the middle of its scroll area first, as a
    /// person would before using it (WebKitWebDriver does not scroll inside a dialog on its own),
    /// and then still: WebDriver clicks the point where the element was, so a list still
    /// settling (a view switched to, its scroll position restored) would take the click
    /// elsewhere. Waits until the element kept its place for a frame and is what its centre
    /// shows, for up to about two seconds of frames, as a person waits for a screen to settle.
    pub async fn reveal(&self, id: &str) -> Element {
        let element = self.by_id(id).await;
        let arg = serde_json::to_value(&element).expect("an element reference");
        let script = r#"
            const [element, done] = [arguments[0], arguments[arguments.length - 1]];
            element.scrollIntoView({ block: "center", inline: "nearest" });
            const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
            const place = () => {
                const r = element.getBoundingClientRect();
                const key = [r.x, r.y, r.width, r.height].join();
                return { key, x: r.x + r.width / 2, y: r.y + r.height / 2 };
            };
            (async () => {
                let last = place().key;
                for (let i = 0; i < 120; i++) {
                    await frame();
                    const now = place();
                    const shown = document.elementFromPoint(now.x, now.y);
                    if (now.key === last && shown && element.contains(shown)) return done(true);
                    last = now.key;
                }
                done(false);
            })();
        "#;
        // Unsettled after all those frames: click anyway, and let the step after tell.
        let _ = self.client.execute_async(script, vec![arg]).await;
        element
    }

    pub async fn click(&self, id: &str) {
        self.reveal(id)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {id}: {e}"));
    }

    /// Replaces the text of an input.
    pub async fn fill(&self, id: &str, text: &str) {
        let input = self.reveal(id).await;
        if input.clear().await.is_err() {
            // WebKitWebDriver calls some inputs further down a scrolled dialog "not
            // interactable" for Element Clear while typing into them works: select all and
            // delete instead, as a person would.
            input
                .click()
                .await
                .unwrap_or_else(|e| panic!("focus {id}: {e}"));
            input
                .send_keys("\u{e009}a\u{e009}\u{e003}")
                .await
                .unwrap_or_else(|e| panic!("empty {id}: {e}"));
        }
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {id}: {e}"));
    }

    /// Picks an option of a `<select>` by its value.
    pub async fn choose(&self, id: &str, value: &str) {
        self.reveal(id)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value:?} in {id}: {e}"));
    }

    /// Sets a checkbox (a switch) to `on`.
    pub async fn set_checked(&self, id: &str, on: bool) {
        let input = self.reveal(id).await;
        let checked = input
            .prop("checked")
            .await
            .expect("read checked")
            .is_some_and(|v| v == "true");
        if checked != on {
            input
                .click()
                .await
                .unwrap_or_else(|e| panic!("toggle {id}: {e}"));
        }
    }

    pub async fn attr_of(&self, id: &str, attribute: &str) -> Option<String> {
        self.by_id(id)
            .await
            .attr(attribute)
            .await
            .unwrap_or_else(|e| panic!("read {attribute} of {id}: {e}"))
    }

    /// The text content of an element (rendered or not: rows off screen skip rendering, and
    /// WebDriver's "element text" is empty for them).
    pub async fn text_of(&self, id: &str) -> String {
        self.by_id(id)
            .await
            .prop("textContent")
            .await
            .unwrap_or_else(|e| panic!("read the text of {id}: {e}"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// Runs `script` (a function body; `return` gives the value) in the window.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run a script in the window: {e}"))
    }

    /// Runs an asynchronous script in the window: it calls its last argument with the result.
    pub async fn eval_async(&self, script: &str) -> serde_json::Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run a script in the window: {e}"))
    }

    /// Presses keys on whatever has the focus, as a person at the keyboard would (WebDriver
    /// key codes: `"\u{e004}"` Tab, `"\u{e007}"` Enter, `"\u{e00c}"` Escape, arrows
    /// `"\u{e012}"`..`"\u{e015}"` left, up, right, down).
    pub async fn press(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("the focused element")
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("press {keys:?}: {e}"));
    }

    /// What has the focus: its test id, else its tag (with its role, if any); `body` when
    /// nothing has.
    pub async fn focused(&self) -> String {
        self.eval(
            "const e = document.activeElement; \
             if (!e) return 'none'; \
             return e.dataset.testid || e.tagName.toLowerCase() + \
               (e.getAttribute('role') ? '[role=' + e.getAttribute('role') + ']' : '');",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Resizes the app's window (its outer size, as a person drags it).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize the window to {width}x{height}: {e}"));
    }

    /// Whether an element with this test id is there now (no waiting).
    pub async fn has(&self, id: &str) -> bool {
        self.exists(&tid(id)).await
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
            .is_empty()
    }

    /// Waits until `check` gives a value (polled every 200 ms), or panics saying `what`.
    pub async fn eventually<T, F, Fut>(&self, what: &str, timeout: Duration, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        eventually(what, timeout, check).await
    }

    /// Waits (up to 10 s) until the clipboard holds text, and returns it; panics saying `what`
    /// was expected there.
    pub async fn copied(&self, what: &str) -> String {
        self.eventually(what, Duration::from_secs(10), || async { clipboard_text() })
            .await
    }

    /// Waits until no element with this test id is left.
    pub async fn wait_gone(&self, id: &str) {
        let css = tid(id);
        self.eventually(&format!("{id} to go away"), STEP_TIMEOUT, || async {
            (!self.exists(&css).await).then_some(())
        })
        .await;
    }

    /// Closes the dialog on top (its close button, as a person would).
    pub async fn close_dialog(&self) {
        self.client
            .find(Locator::Css("dialog[open] > header button"))
            .await
            .expect("an open dialog")
            .click()
            .await
            .expect("close the dialog");
        self.eventually("the dialog to close", STEP_TIMEOUT, || async {
            (!self.exists("dialog[open]").await).then_some(())
        })
        .await;
    }

    /// Opens the add form and fills it in, without submitting.
    /// The add button of the service's own view, so the form opens on that service.
    pub async fn fill_add_form(&self, form: &AccountForm<'_>) {
        self.click(&format!("service-{}", form.service)).await;
        self.click("add-account").await;
        let chosen = self.by_id("field-service").await.prop("value").await;
        if chosen.ok().flatten().as_deref() != Some(form.service) {
            self.choose("field-service", form.service).await;
        }
        self.fill("field-user", form.user).await;
        self.fill("field-endpoint", form.endpoint).await;
        for (key, value) in &form.options {
            let id = format!("field-opt-{key}");
            let field = self.by_id(&id).await;
            if field.tag_name().await.expect("tag name") == "select" {
                self.choose(&id, value).await;
            } else {
                self.fill(&id, value).await;
            }
        }
        if let Some(name) = form.name {
            self.fill("field-name", name).await;
        }
        self.set_checked("field-remember-password", form.remember_password)
            .await;
    }

    /// Adds the account; the login step opens right after.
    pub async fn add_account(&self, form: &AccountForm<'_>) {
        self.fill_add_form(form).await;
        self.click("submit-account").await;
        self.by_id("login-dialog").await;
    }

    pub async fn enter_password(&self, password: &str) {
        self.fill("login-password", password).await;
        self.click("login-submit").await;
    }

    pub async fn answer_captcha(&self, answer: &str) {
        self.fill("captcha-input", answer).await;
        self.click("login-submit").await;
    }

    /// Waits until the captcha image has arrived and decoded.
    pub async fn captcha_image_loaded(&self) {
        self.eventually("the captcha image", STEP_TIMEOUT, || async {
            let image = self.by_id("captcha-image").await;
            let arg = serde_json::to_value(&image).expect("an element reference");
            let loaded = self
                .client
                .execute(
                    "return arguments[0].complete && arguments[0].naturalWidth > 0",
                    vec![arg],
                )
                .await;
            (loaded.ok()? == serde_json::Value::Bool(true)).then_some(())
        })
        .await;
    }

    pub async fn enter_code(&self, code: &str) {
        self.fill("code-input", code).await;
        self.click("login-submit").await;
    }

    /// Waits until the login dialog closed and the account's row shows `state`.
    pub async fn wait_for_state(&self, name: &str, state: &str) {
        let id = format!("state-{name}");
        self.eventually(&format!("{name} to show {state}"), STEP_TIMEOUT, || async {
            if !self.has(&id).await {
                return None;
            }
            (self.attr_of(&id, "data-state").await.as_deref() == Some(state)).then_some(())
        })
        .await;
    }

    pub async fn wait_signed_in(&self, name: &str) {
        self.wait_gone("login-dialog").await;
        self.wait_for_state(name, "valid").await;
    }

    pub async fn is_active(&self, name: &str) -> bool {
        self.has(&format!("active-{name}")).await
    }

    /// Language and theme through the settings dialog, then back to the window.
    pub async fn set_appearance(&self, language: &str, theme: &str) {
        self.click("settings-open").await;
        self.choose("setting-language", language).await;
        self.choose("setting-theme", theme).await;
        self.eventually(
            &format!("<html> to say {language} / {theme}"),
            STEP_TIMEOUT,
            || async {
                let (lang, shown) = self.html_lang_and_theme().await;
                (lang == language && shown == theme).then_some(())
            },
        )
        .await;
        self.close_dialog().await;
    }

    /// `<html lang>` and `<html data-theme>`.
    pub async fn html_lang_and_theme(&self) -> (String, String) {
        let html = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("the html element");
        let lang = html.attr("lang").await.ok().flatten().unwrap_or_default();
        let theme = html
            .attr("data-theme")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        (lang, theme)
    }
}

fn xclip(args: &[&str]) -> Option<String> {
    let output = Command::new("timeout")
        .arg("5")
        .arg("xclip")
        .args(["-selection", "clipboard", "-o"])
        .args(args)
        .output()
        .expect("run xclip (apt-get install xclip)");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The text on the X clipboard, read by another program; `None` when it holds none.
pub fn clipboard_text() -> Option<String> {
    xclip(&[]).filter(|text| !text.is_empty())
}

/// The formats the clipboard's owner offers.
pub fn clipboard_targets() -> Vec<String> {
    xclip(&["-t", "TARGETS"])
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}
