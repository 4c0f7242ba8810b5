//! Session tokens cached in the kernel's session keyring, in front of the Secret Service
//! (Linux).
//!
//! Why: `lanyard token`, `exec` and `api` read one session on every run, and one read from the
//! Secret Service costs a D-Bus connection, an encrypted session and two calls: more than the
//! HTTP request `api` then makes. The kernel keyring answers in microseconds.
//!
//! What is kept, and how it stays true:
//! - only session tokens (never passwords or secret options), as `user` keys named
//!   `lanyard:<secret key>#<stamp>` in the caller's session keyring: the desktop app and the
//!   terminals of one login session share it, and it is gone when that session ends;
//! - readable by the processes that possess that keyring only, and each for at most
//!   [`MAX_TTL`] (the caller passes the session's own remaining lifetime when it is shorter);
//! - the stamp is the session's generation in the database, which every change of the session
//!   bumps, so a reader never takes a token older than the session facts it has just read;
//! - every write or delete of the secret drops all cached copies of it.
//!
//! The cache is an optimisation only: when the kernel refuses (a container's seccomp profile,
//! the key quota), reads go to the secret store as before.

use std::time::Duration;

/// The longest a token stays cached, whatever its expiry.
pub const MAX_TTL: Duration = Duration::from_secs(60 * 60);

/// The kernel key name of one cached secret.
#[cfg(target_os = "linux")]
fn key_name(key: &str, stamp: i64) -> String {
    format!("{}{stamp}", prefix(key))
}

#[cfg(target_os = "linux")]
fn prefix(key: &str) -> String {
    format!("lanyard:{key}#")
}

#[cfg(target_os = "linux")]
pub use linux::SessionCache;

#[cfg(not(target_os = "linux"))]
pub use elsewhere::SessionCache;

#[cfg(target_os = "linux")]
mod linux {
    use std::time::Duration;

    use linux_keyutils::{KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
    use zeroize::Zeroizing;

    use super::{MAX_TTL, key_name, prefix};
    use crate::secret::SecretString;

    /// How many links of the session keyring `forget` looks at.
    const MAX_LINKS: usize = 4096;

    pub struct SessionCache {
        ring: KeyRing,
    }

    impl std::fmt::Debug for SessionCache {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("SessionCache(kernel session keyring)")
        }
    }

    impl SessionCache {
        /// The caller's session keyring (the kernel creates one if the process has none), or
        /// `None` when the kernel's key service is not available.
        pub fn open() -> Option<SessionCache> {
            match KeyRing::from_special_id(KeyRingIdentifier::Session, true) {
                Ok(ring) => Some(SessionCache { ring }),
                Err(e) => {
                    tracing::debug!(error = ?e, "no kernel session keyring: sessions are not cached");
                    None
                }
            }
        }

        pub fn get(&self, key: &str, stamp: i64) -> Option<SecretString> {
            let found = self.ring.search(&key_name(key, stamp)).ok()?;
            let bytes = Zeroizing::new(found.read_to_vec().ok()?);
            let text = std::str::from_utf8(&bytes).ok()?;
            Some(SecretString::new(text.to_owned()))
        }

        pub fn put(&self, key: &str, stamp: i64, value: &SecretString, ttl: Duration) {
            let secs = ttl.min(MAX_TTL).as_secs().max(1);
            let Ok(added) = self
                .ring
                .add_key(&key_name(key, stamp), value.expose().as_bytes())
            else {
                return;
            };
            let owner_only = KeyPermissionsBuilder::builder()
                .posessor(
                    Permission::VIEW
                        | Permission::READ
                        | Permission::WRITE
                        | Permission::SEARCH
                        | Permission::SETATTR,
                )
                .build();
            // A key that cannot be bounded in time or access is not kept at all.
            if added.set_timeout(secs as usize).is_err() || added.set_perms(owner_only).is_err() {
                let _ = added.invalidate();
            }
        }

        /// Drops every cached copy of `key`, whatever its stamp.
        pub fn forget(&self, key: &str) {
            let prefix = prefix(key);
            let Ok(links) = self.ring.get_links(MAX_LINKS) else {
                return;
            };
            for cached in links.iter().filter_map(|node| node.as_key()) {
                let ours = cached
                    .metadata()
                    .is_ok_and(|m| m.get_description().starts_with(&prefix));
                if ours {
                    let _ = cached.invalidate();
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod elsewhere {
    use std::time::Duration;

    use crate::secret::SecretString;

    /// No cache outside Linux: the platform stores answer without a bus round trip.
    #[derive(Debug)]
    pub struct SessionCache;

    impl SessionCache {
        pub fn open() -> Option<SessionCache> {
            None
        }

        pub fn get(&self, _key: &str, _stamp: i64) -> Option<SecretString> {
            None
        }

        pub fn put(&self, _key: &str, _stamp: i64, _value: &SecretString, _ttl: Duration) {}

        pub fn forget(&self, _key: &str) {}
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    /// The session keyring, which CI (`LANYARD_REQUIRE_KEYRING=1`) insists on.
    fn cache_or_skip() -> Option<SessionCache> {
        let cache = SessionCache::open();
        if cache.is_none() {
            assert!(
                std::env::var_os("LANYARD_REQUIRE_KEYRING").is_none(),
                "no kernel session keyring, and LANYARD_REQUIRE_KEYRING is set"
            );
            eprintln!("skipped: this kernel offers no session keyring");
        }
        cache
    }

    /// A key name no other test uses, so tests can share the session keyring.
    fn unique_key(what: &str) -> String {
        format!(
            "test/{what}/{}/{}",
            std::process::id(),
            rand::random::<u64>()
        )
    }

    #[test]
    fn a_cached_token_is_read_back_only_under_its_stamp() {
        let Some(cache) = cache_or_skip() else {
            return;
        };
        let key = unique_key("stamp");
        cache.put(
            &key,
            7,
            &SecretString::new("tok-7"),
            Duration::from_secs(60),
        );
        assert_eq!(cache.get(&key, 7).unwrap().expose(), "tok-7");
        assert!(cache.get(&key, 8).is_none(), "another generation must miss");
        cache.forget(&key);
        assert!(cache.get(&key, 7).is_none(), "forget drops every copy");
    }

    #[test]
    fn forget_drops_every_stamp_of_one_key_only() {
        let Some(cache) = cache_or_skip() else {
            return;
        };
        let (key, other) = (unique_key("mine"), unique_key("other"));
        for stamp in [1, 2] {
            cache.put(
                &key,
                stamp,
                &SecretString::new("a"),
                Duration::from_secs(60),
            );
        }
        cache.put(&other, 1, &SecretString::new("b"), Duration::from_secs(60));
        cache.forget(&key);
        assert!(cache.get(&key, 1).is_none() && cache.get(&key, 2).is_none());
        assert_eq!(cache.get(&other, 1).unwrap().expose(), "b");
        cache.forget(&other);
    }
}
