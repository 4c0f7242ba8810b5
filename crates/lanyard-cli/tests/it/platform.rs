//! What the operating system provides and each platform does its own way, run against whichever
//! `lanyard` is under test (scripts/windows/test-cli-under-wine.sh runs the Windows build under
//! Wine): the OS keyring as the default secret store (the Secret Service here, the Windows
//! Credential Manager there), the captcha file in the temp dir, `exec`'s child environment.

use std::path::Path;
use std::process::Output;

use tokio::process::Command;

use crate::support::{
    World, host_path, interact, lanyard_in, lanyard_runner, lines, private_dir, run, under_wine,
};

/// `lanyard` on `data_dir` with the platform's default secret store (the OS keyring).
fn on_os_keyring(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = lanyard_in(data_dir);
    cmd.args(args).env_remove("LANYARD_SECRET_STORE");
    cmd
}

/// The id Lanyard gave the account `name`: the secret store's keys are made from it.
fn account_id(data_dir: &Path, name: &str) -> String {
    let db = rusqlite::Connection::open_with_flags(
        data_dir.join("lanyard.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT id FROM accounts WHERE name = ?1", [name], |row| {
        row.get(0)
    })
    .unwrap()
}

/// The OS keyring seen from outside Lanyard, with the platform's own tool. On the Secret
/// Service, Lanyard keeps a data dir's secrets on a few shared items ("shelves", named
/// `shelf/<id>/<n>`, each holding `{"lanyard_shelf": 1, "secrets": {key: value}}`); elsewhere
/// each secret is an item of its own.
struct OsKeyring;

impl OsKeyring {
    /// Runs the platform's tool on the item `key` of service `lanyard`: `secret-tool`, or Wine's
    /// `reg` on the registry key where Wine keeps the Credential Manager's generic credentials
    /// (windows-native-keyring-store names each `<key>.lanyard`).
    fn tool(action: &str, key: &str) -> Output {
        if let Some(wine) = lanyard_runner() {
            let item = format!(r"HKCU\Software\Wine\Credential Manager\Generic: {key}.lanyard");
            let mut args = vec!["reg", action, &item];
            if action == "delete" {
                args.push("/f");
            }
            std::process::Command::new(wine)
                .args(&args)
                .output()
                .unwrap()
        } else {
            let action = if action == "query" { "lookup" } else { "clear" };
            std::process::Command::new("secret-tool")
                .args([action, "service", "lanyard", "username", key])
                .output()
                .expect("secret-tool (libsecret-tools) runs")
        }
    }

    /// Every item of service `lanyard` as `secret-tool search --all` prints them: (username,
    /// secret). It prints each item's secret on stdout and its attributes on stderr, item by
    /// item in the same order.
    fn secret_service_items() -> Vec<(String, String)> {
        let out = std::process::Command::new("secret-tool")
            .args(["search", "--all", "--unlock", "service", "lanyard"])
            .output()
            .expect("secret-tool (libsecret-tools) runs");
        let values = |text: &[u8], name: &str| -> Vec<String> {
            String::from_utf8_lossy(text)
                .lines()
                .filter_map(|l| l.strip_prefix(name))
                .map(str::to_owned)
                .collect()
        };
        let users = values(&out.stderr, "attribute.username = ");
        let secrets = values(&out.stdout, "secret = ");
        assert_eq!(users.len(), secrets.len(), "one username per item");
        users.into_iter().zip(secrets).collect()
    }

    /// The shelf that holds `key`, with its contents.
    fn shelf_holding(key: &str) -> Option<(String, serde_json::Value)> {
        Self::secret_service_items()
            .into_iter()
            .filter(|(user, _)| user.starts_with("shelf/"))
            .find_map(|(user, secret)| {
                let shelf: serde_json::Value = serde_json::from_str(&secret).ok()?;
                shelf["secrets"].get(key)?;
                Some((user, shelf))
            })
    }

    fn has(key: &str) -> bool {
        if !under_wine() && Self::shelf_holding(key).is_some() {
            return true;
        }
        let out = Self::tool("query", key);
        out.status.success() && (under_wine() || !out.stdout.is_empty())
    }

    fn delete(key: &str) {
        if !under_wine()
            && let Some((shelf, mut contents)) = Self::shelf_holding(key)
        {
            contents["secrets"].as_object_mut().unwrap().remove(key);
            let mut store = std::process::Command::new("secret-tool")
                .args(["store", "--label=edited by a test", "service", "lanyard"])
                .args(["username", &shelf])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("secret-tool (libsecret-tools) runs");
            use std::io::Write;
            let mut stdin = store.stdin.take().unwrap();
            stdin.write_all(contents.to_string().as_bytes()).unwrap();
            drop(stdin);
            assert!(store.wait().unwrap().success(), "rewriting {shelf}");
            assert!(!Self::has(key), "{key} is gone from {shelf}");
            return;
        }
        let out = Self::tool("delete", key);
        assert!(
            out.status.success(),
            "deleting {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every file below `dir`, read whole.
fn files_below(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_below(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            found.push((path, bytes));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The default secret store is the OS keyring: the password and the session go there, none of
/// it into the data dir; a later process reads them back; a password deleted behind Lanyard's
/// back is asked for again; `remove` deletes them.
#[tokio::test]
async fn the_os_keyring_keeps_the_secrets_and_hands_them_back() {
    let w = World::new().await;
    let data = w.data.path();
    let endpoint = w.endpoint("sscms");
    let name = "sscms/keyring-alice";
    let add = [
        "add",
        "sscms",
        "--user",
        "alice",
        "--name",
        name,
        "--endpoint",
        &endpoint,
        "--remember-password",
        "--password-stdin",
    ];
    run(on_os_keyring(data, &add), &lines(&["secret123"]))
        .await
        .assert_ok();
    let token = run(on_os_keyring(data, &["token", name]), "").await;
    let token = token.assert_ok().stdout.trim().to_owned();
    assert!(!token.is_empty());

    let id = account_id(data, name);
    let (password_key, session_key) = (
        format!("account/{id}/password"),
        format!("account/{id}/session"),
    );
    assert!(
        OsKeyring::has(&password_key),
        "the password is in the OS keyring"
    );
    assert!(
        OsKeyring::has(&session_key),
        "the session is in the OS keyring"
    );
    assert!(!data.join("secrets.enc").exists(), "no secret file");
    for (path, bytes) in files_below(data) {
        assert!(
            !contains(&bytes, "secret123"),
            "password in {}",
            path.display()
        );
        assert!(!contains(&bytes, &token), "token in {}", path.display());
    }

    // The remembered password gone behind Lanyard's back: a login asks for it again.
    OsKeyring::delete(&password_key);
    let login = run(
        on_os_keyring(data, &["login", name]),
        &lines(&["secret123"]),
    )
    .await;
    login.assert_ok();
    assert!(login.stderr.contains("Password for"), "{}", login.stderr);
    run(on_os_keyring(data, &["remove", name]), "")
        .await
        .assert_ok();
    assert!(
        !OsKeyring::has(&password_key),
        "remove deletes the password"
    );
    assert!(!OsKeyring::has(&session_key), "remove deletes the session");
    w.sim.shutdown().await;
}

/// Without a runtime dir (always so on Windows), a captcha image goes into a fresh directory
/// of its own in the temp dir, and both are gone once the answer is read.
#[tokio::test]
async fn a_captcha_file_in_the_temp_dir_is_gone_with_its_directory_after_the_answer() {
    let w = World::new().await;
    let endpoint = w.endpoint("shopxo");
    let mut cmd = w.command(&[
        "add",
        "shopxo",
        "--user",
        "alice01",
        "--endpoint",
        &endpoint,
        "--password-stdin",
    ]);
    cmd.env_remove("XDG_RUNTIME_DIR");
    let seen = std::cell::RefCell::new(Vec::new());
    let out = interact(cmd, &["secret123"], |line| {
        if let Some(path) = line.strip_prefix("captcha image: ").map(host_path) {
            let bytes = std::fs::read(&path).expect("the captcha file is there while asked");
            assert!(bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"GIF8"));
            let dir = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            assert!(dir.starts_with("lanyard-"), "a directory of its own: {dir}");
            seen.borrow_mut().push(path);
        }
        let captcha = line == "Captcha:";
        let w = &w;
        async move {
            if !captcha {
                return None;
            }
            Some(w.captcha_answer("shopxo").await)
        }
    })
    .await;
    out.assert_ok();
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 1, "{}", out.stderr);
    assert!(!seen[0].exists(), "the image is gone");
    assert!(!seen[0].parent().unwrap().exists(), "its directory is gone");
    w.sim.shutdown().await;
}

/// `exec` gives a command of the platform (`sh` here, `cmd.exe` on Windows) the token in its
/// environment and returns the command's exit status.
#[tokio::test]
async fn exec_hands_the_token_to_a_command_of_the_platform() {
    let w = World::new().await;
    let endpoint = w.endpoint("sscms");
    w.run(
        &[
            "add",
            "sscms",
            "--user",
            "alice",
            "--endpoint",
            &endpoint,
            "--password-stdin",
        ],
        &["secret123"],
    )
    .await
    .assert_ok();
    let dir = private_dir();
    let seen = dir.path().join("seen");
    let command: Vec<String> = if under_wine() {
        // Z: is the Linux root under Wine.
        let file = format!("Z:{}", seen.display()).replace('/', r"\");
        ["cmd", "/c", &format!("set LANYARD_> {file}& exit 7")]
            .map(str::to_owned)
            .to_vec()
    } else {
        let script = format!("env | grep '^LANYARD_' > '{}'; exit 7", seen.display());
        ["sh", "-c", &script].map(str::to_owned).to_vec()
    };
    let mut args = vec!["exec", "sscms", "--"];
    args.extend(command.iter().map(String::as_str));
    let ran = w.run(&args, &[]).await;
    ran.assert_code(7);
    let token = w.token("sscms/alice").await;
    let env = std::fs::read_to_string(&seen).unwrap();
    let vars: Vec<&str> = env
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .collect();
    assert!(
        vars.contains(&format!("LANYARD_TOKEN={token}").as_str()),
        "{env}"
    );
    assert!(vars.contains(&"LANYARD_ACCOUNT=sscms/alice"), "{env}");
    assert!(vars.contains(&"LANYARD_SERVICE=sscms"), "{env}");
    assert!(!ran.stdout.contains(&token) && !ran.stderr.contains(&token));
    w.sim.shutdown().await;
}

/// Where data lives when nothing says otherwise: `$XDG_DATA_HOME/lanyard` here, `%APPDATA%\lanyard`
/// (the roaming application data folder) on Windows.
#[tokio::test]
async fn without_a_data_dir_setting_the_data_lives_in_the_platforms_place() {
    let w = World::new().await;
    let xdg_data = private_dir();
    let expected = if let Some(wine) = lanyard_runner() {
        let out = std::process::Command::new(wine)
            .args(["cmd", "/c", "echo %APPDATA%"])
            .output()
            .unwrap();
        let appdata = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(appdata.contains("AppData"), "{appdata}");
        host_path(&appdata).join("lanyard")
    } else {
        xdg_data.path().join("lanyard")
    };
    let endpoint = w.endpoint("sscms");
    let mut cmd = crate::support::lanyard();
    cmd.args(["add", "sscms", "--user", "alice", "--endpoint", &endpoint])
        .args(["--password-stdin", "--no-login"])
        .env("XDG_DATA_HOME", xdg_data.path())
        .env("LANYARD_SECRET_STORE", "file")
        .env("LANYARD_PASSPHRASE", crate::support::FILE_STORE_PASSPHRASE);
    run(cmd, &lines(&["secret123"])).await.assert_ok();
    assert!(
        expected.join("lanyard.db").is_file(),
        "{} holds the database",
        expected.display()
    );
    assert!(expected.join("secrets.enc").is_file());
    if under_wine() {
        std::fs::remove_dir_all(&expected).unwrap();
    }
    w.sim.shutdown().await;
}
