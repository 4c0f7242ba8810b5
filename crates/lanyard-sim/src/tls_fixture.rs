//! A throwaway certificate authority and an HTTPS server signed by it, for TLS tests: the
//! `openssl` command line (Debian's `openssl` package) makes the CA and the server certificate
//! (for 127.0.0.1 and localhost) and runs `openssl s_server -www` on a loopback port, which
//! answers every `GET` over TLS with an HTML status page (and nothing else: other methods get no
//! answer). Nothing here is part of the simulators themselves.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = lanyard_sim::tls_fixture::TlsServer::start().await?;
//! println!("{} is signed by the CA in {}", server.base_url(), server.ca_file().display());
//! # Ok(()) }
//! ```

use std::io::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `openssl s_server` with its own CA. Dropping it kills the server and removes the
/// key material.
pub struct TlsServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl TlsServer {
    /// Makes a CA and a server certificate in a temporary directory and starts `openssl
    /// s_server` on a free loopback port; returns once it accepts connections.
    pub async fn start() -> std::io::Result<TlsServer> {
        let dir = tempfile::tempdir()?;
        make_certificates(dir.path()).await?;
        // s_server cannot report the port it bound, so take a free one and hand it over; a
        // race with another process is possible but rare, and shows as a clear start error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.path().join("server.pem"))
            .arg("-key")
            .arg(dir.path().join("server.key"))
            .arg("-www")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::new(e.kind(), format!("cannot run openssl s_server: {e}")))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = lines.next_line().await? {
                if line.trim() == "ACCEPT" {
                    return Ok(true);
                }
            }
            Ok::<bool, Error>(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => {}
            _ => {
                return Err(Error::other(format!(
                    "openssl s_server did not start on 127.0.0.1:{port}"
                )));
            }
        }
        // Keep draining its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(TlsServer { dir, port, child })
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, as error messages name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn openssl(dir: &Path, args: &[&str]) -> std::io::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::new(e.kind(), format!("cannot run openssl: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::other(format!(
            "openssl {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `ca.pem`/`ca.key` (a CA) and `server.pem`/`server.key` (127.0.0.1 and localhost, signed by
/// it), P-256 keys, valid for two days.
async fn make_certificates(dir: &Path) -> std::io::Result<()> {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Lanyard Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca).await?;
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr).await?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
    )?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    )
    .await
}
