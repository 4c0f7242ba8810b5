//! A stand-in for a desktop's tray host, on the test's session bus: the StatusNotifierWatcher
//! that apps register their tray icons with (the protocol of KDE, GNOME's AppIndicator extension
//! and most Linux panels). Through it a test reads an icon's menu as the panel would show it
//! (the `com.canonical.dbusmenu` interface the icon exports) and clicks its entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// The registered icons, as `(the bus name that registered it, its object path)`.
type Items = Arc<Mutex<Vec<(String, String)>>>;

struct Watcher {
    items: Items,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// `service` is the icon's object path (libayatana-appindicator) or a bus name.
    fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let (name, path) = if service.starts_with('/') {
            (sender, service.to_owned())
        } else {
            (service.to_owned(), "/StatusNotifierItem".to_owned())
        };
        // An icon registers again when it changes (its icon or its menu): it is the same one.
        let mut items = self.items.lock().unwrap();
        if !items.contains(&(name.clone(), path.clone())) {
            items.push((name, path));
        }
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        let items = self.items.lock().unwrap();
        items
            .iter()
            .map(|(name, path)| format!("{name}{path}"))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A dbusmenu node as `GetLayout` sends it: its id, its properties and its children (each a
/// node in a variant).
type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// One entry of a tray icon's menu, as a panel shows it.
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    /// Without the mnemonic underscores.
    pub label: String,
    pub enabled: bool,
}

/// The watcher, serving until dropped. Start it before the app, so that the app finds it when it
/// puts its icon up.
pub struct TrayHost {
    connection: zbus::Connection,
    items: Items,
}

impl TrayHost {
    pub async fn start() -> TrayHost {
        let items = Items::default();
        let connection = zbus::connection::Builder::session()
            .expect("the session bus")
            .name("org.kde.StatusNotifierWatcher")
            .expect("the watcher's name")
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: items.clone(),
                },
            )
            .expect("serve the watcher")
            .build()
            .await
            .expect("own org.kde.StatusNotifierWatcher on the session bus");
        TrayHost { connection, items }
    }

    /// The menu of the one icon registered, once an entry's label contains `text` (waits up to
    /// 20 s: the app rebuilds its menu as accounts change).
    pub async fn menu_with(&self, text: &str) -> Vec<MenuEntry> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = Vec::new();
        while Instant::now() < deadline {
            if let Some(menu) = self.menu().await {
                if menu.iter().any(|entry| entry.label.contains(text)) {
                    return menu;
                }
                last = menu;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no tray menu entry with {text:?}; the menu: {last:?}");
    }

    /// Clicks the menu entry whose label contains `text`, as a person does in the panel.
    pub async fn click(&self, text: &str) {
        let menu = self.menu_with(text).await;
        let entry = menu
            .iter()
            .find(|entry| entry.label.contains(text))
            .expect("the entry");
        assert!(entry.enabled, "the entry can be clicked: {entry:?}");
        let proxy = self.menu_proxy().await.expect("the tray menu");
        proxy
            .call_method("Event", &(entry.id, "clicked", Value::from(0i32), 0u32))
            .await
            .expect("click the tray menu entry");
    }

    /// The entries of the one icon's menu (its top level, separators left out), if an icon is
    /// registered and its menu answers.
    pub async fn menu(&self) -> Option<Vec<MenuEntry>> {
        let proxy = self.menu_proxy().await?;
        let reply = proxy
            .call_method("GetLayout", &(0i32, -1i32, Vec::<String>::new()))
            .await
            .ok()?;
        let (_revision, (_id, _properties, children)): (u32, Node) =
            reply.body().deserialize().ok()?;
        let mut entries = Vec::new();
        for child in children {
            let (id, properties, _children): Node = child.try_into().ok()?;
            let text = |key: &str| {
                properties
                    .get(key)
                    .and_then(|value| String::try_from(value.clone()).ok())
            };
            if text("type").as_deref() == Some("separator") {
                continue;
            }
            let enabled = properties
                .get("enabled")
                .and_then(|value| bool::try_from(value.clone()).ok())
                .unwrap_or(true);
            entries.push(MenuEntry {
                id,
                label: without_mnemonics(&text("label").unwrap_or_default()),
                enabled,
            });
        }
        Some(entries)
    }

    /// A proxy on the `com.canonical.dbusmenu` object of the one registered icon.
    async fn menu_proxy(&self) -> Option<zbus::Proxy<'static>> {
        let (name, path) = {
            let items = self.items.lock().unwrap();
            assert!(items.len() <= 1, "one tray icon: {items:?}");
            items.first()?.clone()
        };
        let item = zbus::Proxy::new(
            &self.connection,
            name.clone(),
            path,
            "org.kde.StatusNotifierItem",
        )
        .await
        .ok()?;
        let menu: OwnedObjectPath = item.get_property("Menu").await.ok()?;
        zbus::Proxy::new(&self.connection, name, menu, "com.canonical.dbusmenu")
            .await
            .ok()
    }
}

/// A dbusmenu label as shown: `_` marks the next letter as the mnemonic, `__` is an underscore.
fn without_mnemonics(label: &str) -> String {
    let mut shown = String::with_capacity(label.len());
    let mut chars = label.chars();
    while let Some(c) = chars.next() {
        if c != '_' {
            shown.push(c);
        } else if let Some(next) = chars.next() {
            shown.push(next);
        }
    }
    shown
}
