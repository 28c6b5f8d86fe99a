//! A headless Chromium driven through chromedriver's W3C WebDriver HTTP API, for tests of
//! the dashboard in a real browser (Debian's `chromium` and `chromium-driver`; without them
//! a browser test fails rather than passes unseen); every browser test uses it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::http;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the page may take to show what the test waits for.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// The key WebDriver names an element by in its JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver command chromedriver refused (no such element, stale element, ...).
#[derive(Debug)]
pub struct DriverError(pub String);

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An element of the page, by its WebDriver id.
#[derive(Debug, Clone)]
pub struct Element(pub String);

/// chromedriver with one Chromium session. Dropping it (also when the test panics) ends
/// the session, which closes the browser, and kills chromedriver.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    http: reqwest::Client,
    _profile: TempDir,
}

impl Browser {
    /// A browser speaking English (as the English assertions of the first test expect).
    pub async fn start() -> Browser {
        Browser::start_in("en-US", "UTC").await
    }

    /// A browser whose languages are `lang` (`zh-CN`: `navigator.languages` starts with
    /// it) and whose clock is in the time zone `tz`.
    pub async fn start_in(lang: &str, tz: &str) -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).is_file(),
                "{path} is missing: the dashboard test drives Debian's headless Chromium \
                 through chromedriver; `.ci/run` installs both \
                 (apt-get install chromium chromium-driver)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // Chromium inherits it: the browser's local time zone.
            .env("TZ", tz)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = http();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let status = http.get(format!("{base}/status")).send().await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = TempDir::new().expect("browser profile dir");
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--lang={lang}"), format!("--accept-lang={lang}"),
                ],
                // What `navigator.languages` reports comes from this preference.
                "prefs": { "intl": { "accept_languages": lang } },
            },
        }}});
        let reply: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("JSON from chromedriver");
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            http,
            _profile: profile,
        };
        browser.session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no Chromium session: {reply}"))
            .to_owned();
        browser
    }

    /// One WebDriver command of this session; its `value`.
    pub async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, DriverError> {
        let url = format!(
            "http://127.0.0.1:{}/session/{}{path}",
            self.port, self.session
        );
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let ok = response.status().is_success();
        let mut reply: Value = response.json().await.expect("JSON from chromedriver");
        let value = reply["value"].take();
        if ok {
            Ok(value)
        } else {
            Err(DriverError(format!(
                "{}: {}",
                value["error"], value["message"]
            )))
        }
    }

    pub async fn goto(&self, url: &str) {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .expect("navigate");
    }

    /// Runs `script` in the page and returns its result.
    pub async fn script(&self, script: &str) -> Value {
        self.command(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
        .expect("script runs")
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, DriverError> {
        self.find_in("", css).await
    }

    /// The elements matching `css` under `scope` (a path like `/element/ID`, or "" for the
    /// page).
    pub async fn find_in(&self, scope: &str, css: &str) -> Result<Vec<Element>, DriverError> {
        let body = json!({ "using": "css selector", "value": css });
        let found = self
            .command(Method::POST, &format!("{scope}/elements"), Some(body))
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_owned()))
            .collect())
    }

    /// The first element matching `css`, waiting until it is shown (the page switches
    /// between its parts asynchronously).
    pub async fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            let found = self.find_all(css).await;
            if let Ok(Some(element)) = found.as_ref().map(|f| f.first()) {
                let path = format!("/element/{}/displayed", element.0);
                if self
                    .command(Method::GET, &path, None)
                    .await
                    .is_ok_and(|d| d == true)
                {
                    return element.clone();
                }
            }
            if started.elapsed() > PATIENCE {
                panic!(
                    "no {css} on the page ({found:?}):\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, element: &Element) -> Result<String, DriverError> {
        let text = self
            .command(Method::GET, &format!("/element/{}/text", element.0), None)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Result<String, DriverError> {
        let path = format!("/element/{}/attribute/{name}", element.0);
        let value = self.command(Method::GET, &path, None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Clicks the first element matching `css`, found again if a redraw replaced it
    /// between finding and clicking (a few times at most).
    pub async fn click(&self, css: &str) {
        let mut tries = 0;
        loop {
            let element = self.find(css).await;
            let clicked = self
                .command(
                    Method::POST,
                    &format!("/element/{}/click", element.0),
                    Some(json!({})),
                )
                .await;
            match clicked {
                Err(DriverError(e)) if e.contains("stale element") && tries < 5 => tries += 1,
                done => {
                    return done
                        .map(drop)
                        .unwrap_or_else(|e| panic!("click {css}: {e}"));
                }
            }
        }
    }

    /// Replaces the text of the input `css` with `text`, as typed.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        let path = format!("/element/{}", element.0);
        self.command(Method::POST, &format!("{path}/clear"), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        self.command(
            Method::POST,
            &format!("{path}/value"),
            Some(json!({ "text": text })),
        )
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> Result<String, DriverError> {
        self.read_first(css, async |b, element| b.text(element).await)
            .await
    }

    /// The attribute `name` of the first element matching `css`.
    pub async fn attribute_of(&self, css: &str, name: &str) -> Result<String, DriverError> {
        self.read_first(css, async |b, element| b.attribute(element, name).await)
            .await
    }

    /// `read` of the first element matching `css`. Finding it and reading it are two
    /// WebDriver calls, and a live redraw between them replaces the element: then it is
    /// found again (a few times at most), never reported as the page's failure.
    async fn read_first(
        &self,
        css: &str,
        read: impl AsyncFn(&Browser, &Element) -> Result<String, DriverError>,
    ) -> Result<String, DriverError> {
        let mut tries = 0;
        loop {
            let found = self.find_all(css).await?;
            let element = found
                .first()
                .ok_or_else(|| DriverError(format!("no {css}")))?;
            match read(self, element).await {
                Err(DriverError(e)) if e.contains("stale element") && tries < 5 => tries += 1,
                read => return read,
            }
        }
    }

    /// A PNG of what the browser shows, written to `path`.
    pub async fn screenshot(&self, path: &str) {
        use base64::Engine;
        let png = self
            .command(Method::GET, "/screenshot", None)
            .await
            .expect("screenshot");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("base64");
        std::fs::write(path, bytes).expect("write the screenshot");
    }

    /// Everything the page shows, for failure messages.
    pub async fn page_text(&self) -> String {
        match self.find_all("body").await {
            Ok(body) if !body.is_empty() => self.text(&body[0]).await.unwrap_or_default(),
            _ => "(no page)".into(),
        }
    }

    /// Polls `read` until it gives `want`; panics with the last reading and the page if it
    /// does not within [`PATIENCE`].
    pub async fn wait_until<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        want: &T,
        read: impl AsyncFn(&Browser) -> Result<T, DriverError>,
    ) {
        let started = Instant::now();
        loop {
            let seen = read(self).await;
            if seen.as_ref().is_ok_and(|seen| seen == want) {
                return;
            }
            if started.elapsed() > PATIENCE {
                panic!(
                    "{what}: the page shows {seen:?}, expected {want:?}\n--- page ---\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Blocking on purpose: a drop cannot await, and the session must end (closing
        // Chromium) before chromedriver is killed, also when the test panicked.
        if !self.session.is_empty()
            && let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                self.session, self.port
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                // chromedriver answers once Chromium has quit, and may keep the connection
                // open after that: read the one reply, not to the end of the stream.
                let mut reply = Vec::new();
                let mut chunk = [0; 4096];
                while let Ok(n @ 1..) = stream.read(&mut chunk) {
                    reply.extend_from_slice(&chunk[..n]);
                    if reply_complete(&reply) {
                        break;
                    }
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether `reply` holds a whole HTTP response with a `Content-Length` body.
fn reply_complete(reply: &[u8]) -> bool {
    let text = String::from_utf8_lossy(reply);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok());
    length.is_none_or(|length| body.len() >= length)
}
