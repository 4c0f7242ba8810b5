//! What the app changes in WebKitGTK's defaults, and why. The first two cut what the window
//! costs while its account list is longer than the window, most of all where WebKit composites
//! through software GL (Xvfb, virtual machines, remote desktops); the third, the web process's
//! memory. Measured under Xvfb, with the debug build unless said otherwise:
//! - **Classic scrollbars** (`GTK_OVERLAY_SCROLLING=0`). An overlay scrollbar fades in whenever a
//!   list that overflows appears or scrolls, and out again, and the window is composited anew for
//!   every frame of that: 5.3 s of the web process's CPU in the 4 s after the window showed four
//!   signed-in accounts, 1.3 s with classic scrollbars.
//! - **No asynchronous overflow scrolling** (WebKit's `AsyncOverflowScrolling` feature). The
//!   list's scroller then paints into the page's own layer rather than a composited layer of its
//!   own, which was redrawn whole for every tick of a countdown in seconds: 17.8 % of a core with
//!   200 accounts and two countdowns in seconds, 2.9 % without it, and 14 MiB less in the web
//!   process. Scrolling is then done by the page's thread, which this page leaves idle.
//! - **No optimizing JavaScript tiers** (`JSC_useDFGJIT=false`, which takes FTL with it). The
//!   page's code runs in JavaScriptCore's interpreter and baseline JIT; the DFG and FTL tiers pay
//!   off for long-running computation, which this page does not do. Release build, 200 accounts,
//!   three runs each: the whole app at 316–322 MiB PSS instead of 324–329, and typing in the
//!   filter over 1,000 accounts took the web process as much CPU as before. Without any JIT
//!   (`JSC_useJIT=false`) it saved 3 MiB more but typing cost 15 % more CPU.

use tauri::{Runtime, WebviewWindow};

/// The WebKit features the app turns off (identifiers of `webkit_settings_get_all_features`).
const FEATURES_OFF: &[&str] = &["AsyncOverflowScrolling"];

/// Environment variables the app sets unless the person has set them: GTK reads the first when
/// it starts, and WebKit's web process, which inherits the app's environment, reads both.
const ENVIRONMENT: &[(&str, &str)] = &[
    // Classic scrollbars.
    ("GTK_OVERLAY_SCROLLING", "0"),
    // No optimizing JavaScript tiers.
    ("JSC_useDFGJIT", "false"),
];

/// Sets [`ENVIRONMENT`], keeping any value the person chose.
///
/// # Safety
///
/// Sets environment variables: call it before any other thread exists, first thing in `main`.
pub unsafe fn prepare_environment() {
    for (name, value) in ENVIRONMENT {
        if std::env::var_os(name).is_none() {
            // SAFETY: the caller guarantees that no other thread exists yet.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

/// Turns off [`FEATURES_OFF`] in the window's webview. Called as soon as the window is built; the
/// page may have begun loading, and WebKit applies changed settings to the page it shows.
pub fn tune<R: Runtime>(window: &WebviewWindow<R>) {
    let tuned = window.with_webview(|webview| {
        use webkit2gtk::WebViewExt as _;
        use webkit2gtk::glib::object::ObjectType as _;
        let Some(settings) = webview.inner().settings() else {
            return;
        };
        let Some(api) = FeatureApi::load() else {
            tracing::debug!("this WebKitGTK has no feature API (before 2.42); left as it is");
            return;
        };
        for name in FEATURES_OFF {
            // SAFETY: `settings` is a live WebKitSettings (borrowed from the webview for this
            // call), and `feature` a WebKitFeature from WebKit's own list.
            let done = api.with_feature(name, |feature| unsafe {
                (api.set_feature_enabled)(settings.as_ptr().cast(), feature, 0);
            });
            if done.is_none() {
                tracing::warn!(feature = name, "WebKit has no such feature; left as it is");
            }
        }
    });
    if let Err(e) = tuned {
        tracing::warn!(error = %e, "could not reach the window's webview");
    }
}

type Opaque = std::ffi::c_void;

/// WebKitGTK's feature API (2.42 and later), looked up when it is used, so that the app still
/// starts on an older WebKitGTK, with WebKit's defaults.
struct FeatureApi {
    get_all_features: unsafe extern "C" fn() -> *mut Opaque,
    list_get_length: unsafe extern "C" fn(*mut Opaque) -> usize,
    list_get: unsafe extern "C" fn(*mut Opaque, usize) -> *mut Opaque,
    list_unref: unsafe extern "C" fn(*mut Opaque),
    get_identifier: unsafe extern "C" fn(*mut Opaque) -> *const std::ffi::c_char,
    set_feature_enabled: unsafe extern "C" fn(*mut Opaque, *mut Opaque, i32),
}

impl FeatureApi {
    fn load() -> Option<FeatureApi> {
        /// The address of a function of a library the process has loaded (WebKitGTK, through
        /// wry), cast to the function type the caller names.
        ///
        /// SAFETY (of each use below): the type is the function's C signature from
        /// WebKitGTK's headers (WebKitSettings.h, WebKitFeature.h).
        unsafe fn find<F: Copy>(name: &std::ffi::CStr) -> Option<F> {
            // SAFETY: dlsym only looks a name up; RTLD_DEFAULT searches the loaded libraries.
            let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            // SAFETY: F is a function pointer type (the size of a pointer), per the caller.
            (!address.is_null()).then(|| unsafe { std::mem::transmute_copy(&address) })
        }
        // SAFETY: each type below is the C signature of the function named.
        unsafe {
            Some(FeatureApi {
                get_all_features: find(c"webkit_settings_get_all_features")?,
                list_get_length: find(c"webkit_feature_list_get_length")?,
                list_get: find(c"webkit_feature_list_get")?,
                list_unref: find(c"webkit_feature_list_unref")?,
                get_identifier: find(c"webkit_feature_get_identifier")?,
                set_feature_enabled: find(c"webkit_settings_set_feature_enabled")?,
            })
        }
    }

    /// Calls `use_it` with the feature of this identifier, if WebKit has one.
    fn with_feature<T>(&self, name: &str, use_it: impl FnOnce(*mut Opaque) -> T) -> Option<T> {
        // SAFETY: the list is WebKit's (transfer full, released below); its features live as
        // long as it does, and identifiers are NUL-terminated strings WebKit owns.
        unsafe {
            let list = (self.get_all_features)();
            if list.is_null() {
                return None;
            }
            let found = (0..(self.list_get_length)(list))
                .map(|index| (self.list_get)(list, index))
                .find(|&feature| {
                    let identifier = (self.get_identifier)(feature);
                    !identifier.is_null()
                        && std::ffi::CStr::from_ptr(identifier).to_bytes() == name.as_bytes()
                });
            let result = found.map(use_it);
            (self.list_unref)(list);
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FEATURES_OFF, FeatureApi};

    /// A feature WebKit renamed or dropped would leave the app with WebKit's default, and the
    /// costs above, without a word: the WebKitGTK this is built against has each one.
    #[test]
    fn the_features_turned_off_exist_in_this_webkit() {
        // The app has WebKitGTK loaded through wry; this test's mock runtime does not.
        // SAFETY: loads the library the app links, by its soname; nothing of it runs here.
        let library = unsafe {
            libc::dlopen(
                c"libwebkit2gtk-4.1.so.0".as_ptr(),
                libc::RTLD_NOW | libc::RTLD_GLOBAL,
            )
        };
        assert!(!library.is_null(), "libwebkit2gtk-4.1.so.0 loads");
        let api = FeatureApi::load().expect("WebKitGTK 2.42 or later, with its feature API");
        for name in FEATURES_OFF {
            assert_eq!(api.with_feature(name, |_| ()), Some(()), "{name}");
        }
        assert_eq!(api.with_feature("NoSuchFeature", |_| ()), None);
    }
}
