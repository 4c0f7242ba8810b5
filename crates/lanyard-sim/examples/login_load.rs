//! Bounded load run: SSCMS v6 logins on loopback.
//!
//! `cargo run --release -p lanyard-sim --example login_load -- [URL] [SECS] [CONCURRENCY]`
//!
//! Without URL (or with `-`) the simulators are started in this process; otherwise URL is an
//! SSCMS base URL of a running `lanyard-sim`. Prints one line of figures.

use std::time::{Duration, Instant};

use md5::{Digest, Md5};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conc: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let (base, _sim) = match args.first().filter(|u| u.as_str() != "-") {
        Some(u) => (u.trim_end_matches('/').to_owned(), None),
        None => {
            let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
                .await
                .expect("start simulators");
            (sim.endpoints().sscms.clone(), Some(sim))
        }
    };
    let url = format!("{base}/api/v1/users/actions/login");
    let body = format!(
        r#"{{"account":"demo","password":"{}","isAutoLogin":false}}"#,
        hex::encode(Md5::digest(b"demo1234"))
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    println!(
        "sscms v6 login: {} ok, {} errors in {:.1} s, concurrency {} => {:.0} logins/s; latency p50 {:.2} ms, p99 {:.2} ms ({})",
        lat.len(),
        errors,
        elapsed,
        conc,
        lat.len() as f64 / elapsed,
        ms(pct(0.50)),
        ms(pct(0.99)),
        if _sim.is_some() {
            "in-process"
        } else {
            "external process"
        },
    );
}
