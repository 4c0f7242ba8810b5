//! The one HTTP layer every service uses: rustls, timeouts, bounded bodies, no credential
//! forwarding across origins, proxies from the environment or per account.
//! (Being completed with the service clients; see issue 5.)

use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Whole-request deadline, body included.
    pub timeout: Duration,
    /// Larger answers are cut off and reported as a server error.
    pub max_body_bytes: usize,
    pub user_agent: String,
    /// Explicit proxy URL; `None` uses the environment (HTTP(S)_PROXY, NO_PROXY).
    pub proxy: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 4 * 1024 * 1024,
            user_agent: format!("Lanyard/{}", env!("CARGO_PKG_VERSION")),
            proxy: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
}

impl Http {
    pub fn new(config: HttpConfig) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            // Redirects are followed by hand so credentials never cross origins.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|e| Error::invalid_input(format!("invalid proxy URL '{proxy}': {e}")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, config })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }
}
