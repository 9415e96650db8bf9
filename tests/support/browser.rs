//! A real headless Chromium driven over WebDriver, for tests of the pages
//! dialpop serves.
//!
//! `Browser::start()` runs `/usr/bin/chromedriver` on a free loopback port as
//! a child process, waits until it answers, and opens a fantoccini session on
//! a headless Chromium with a fresh profile. Everything it started (the
//! driver and the browsers the driver launched) is killed when the `Browser`
//! is dropped, even when the test panicked.
//!
//! There is deliberately no "skip if Chromium is missing": a test that needs a
//! browser and cannot have one fails, loudly, with the command that fixes it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the helpers wait for something to appear before failing.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// The chromedriver child process. Dropping it kills its whole process group:
/// the driver and every Chromium process it started.
struct Driver {
    child: Child,
    log: PathBuf,
    out: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The driver was started as the leader of its own process group
        // (`process_group(0)`), so its id is the group id; Chromium and its
        // helpers inherit the group. SAFETY: kill(2) has no memory effects.
        let pgid = self.child.id() as libc::pid_t;
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn log_text(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| format!("(none: {e})"));
        format!("{}\n--- output:\n{}", read(&self.log), read(&self.out))
    }
}

pub struct Browser {
    // Field order is drop order: the session first, then the driver (and the
    // browser with it), then the profile directory.
    client: Client,
    driver: Driver,
    _profile: tempfile::TempDir,
}

fn require(path: &str) {
    if !Path::new(path).exists() {
        panic!(
            "{path} is missing: the agent page browser tests need Chromium and ChromeDriver \
             from Debian. Install them with `apt-get install -y chromium chromium-driver` \
             (.ci/run does this). These tests never skip."
        );
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local addr").port()
}

/// One blocking `GET /status` against chromedriver; true once it says ready.
fn driver_ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200") && reply.contains("\"ready\":true")
}

impl Browser {
    /// Start chromedriver and a headless Chromium with a 1280x800 window.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// `start` with more Chromium switches.
    pub async fn start_with(extra: &[String]) -> Browser {
        require(CHROMIUM);
        require(CHROMEDRIVER);

        let profile = tempfile::Builder::new()
            .prefix("dialpop-chromium-")
            .tempdir()
            .expect("create a temporary Chromium profile directory");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        // The driver's own log goes to --log-path; its stdout/stderr (start-up
        // lines, crashes) to a file beside it.
        let out = profile.path().join("chromedriver.out");
        let out_file = std::fs::File::create(&out).expect("create chromedriver output file");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(out_file.try_clone().expect("dup output file"))
            .stderr(out_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = Driver { child, log, out };

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "{CHROMEDRIVER} exited ({status}) before answering; its log:\n{}",
                    driver.log_text()
                );
            }
            if driver_ready(port) {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "{CHROMEDRIVER} did not answer on port {port} within 20 s; its log:\n{}",
                    driver.log_text()
                );
            }
            tokio::time::sleep(POLL).await;
        }

        let user_data_dir = profile.path().join("profile");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,800",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", user_data_dir.display()));
        args.extend(extra.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": args,
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = match ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => client,
            Err(e) => panic!(
                "cannot open a Chromium session through {CHROMEDRIVER}: {e}; its log:\n{}",
                driver.log_text()
            ),
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The raw fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// Resize so that the page's viewport (not the window) is `width` x `height`.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize window to {width}x{height}: {e}"));
        // Headless windows have no browser chrome, but check rather than trust.
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight];")
            .await;
        let (w, h) = (
            inner[0].as_u64().unwrap_or(0),
            inner[1].as_u64().unwrap_or(0),
        );
        if (w, h) != (u64::from(width), u64::from(height)) {
            let dw = u64::from(width) + u64::from(width).saturating_sub(w);
            let dh = u64::from(height) + u64::from(height).saturating_sub(h);
            self.client
                .set_window_size(dw as u32, dh as u32)
                .await
                .unwrap_or_else(|e| panic!("resize window to {dw}x{dh}: {e}"));
        }
    }

    /// Run a script in the page (`return …` gives its value).
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Wait (polling) until `css` matches an element, up to `timeout`.
    pub async fn wait_for_within(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(found) = self.client.find(Locator::Css(css)).await {
                return found;
            }
            if Instant::now() > deadline {
                panic!("no element matched `{css}` within {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_within(css, DEFAULT_WAIT).await
    }

    /// Wait until `css` matches an element that is displayed.
    pub async fn wait_visible(&self, css: &str) -> Element {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            if let Ok(found) = self.client.find(Locator::Css(css)).await
                && found.is_displayed().await.unwrap_or(false)
            {
                return found;
            }
            if Instant::now() > deadline {
                panic!("no visible element matched `{css}` within {DEFAULT_WAIT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Wait until `css` matches nothing that is displayed.
    pub async fn wait_hidden(&self, css: &str) {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            let shown = match self.client.find(Locator::Css(css)).await {
                Ok(found) => found.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            };
            if !shown {
                return;
            }
            if Instant::now() > deadline {
                panic!("`{css}` was still displayed after {DEFAULT_WAIT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn is_displayed(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(found) => found.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The rendered text of the element with `data-testid="{id}"`, once it
    /// exists ("" while it is hidden, as WebDriver reports rendered text).
    pub async fn text_of(&self, testid: &str) -> String {
        let css = testid_css(testid);
        let found = self.wait_for(&css).await;
        found
            .text()
            .await
            .unwrap_or_else(|e| panic!("read text of {css}: {e}"))
    }

    /// Wait until the text of `data-testid="{id}"` satisfies `pred`; returns it.
    pub async fn wait_text(&self, testid: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let css = testid_css(testid);
        let deadline = Instant::now() + DEFAULT_WAIT;
        let mut last = String::new();
        loop {
            if let Ok(found) = self.client.find(Locator::Css(&css)).await
                && let Ok(t) = found.text().await
            {
                if pred(&t) {
                    return t;
                }
                last = t;
            }
            if Instant::now() > deadline {
                panic!("{css} never showed {what} within {DEFAULT_WAIT:?}; last text: {last:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the element with this `data-testid` once it is visible.
    pub async fn click(&self, testid: &str) {
        self.wait_visible(&testid_css(testid))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {testid}: {e}"));
    }

    /// Replaces the text of the field with this `data-testid`.
    pub async fn type_into(&self, testid: &str, text: &str) {
        let e = self.wait_visible(&testid_css(testid)).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    /// Type the token into the login form and press the Sign in button.
    pub async fn sign_in(&self, token: &str) {
        let input = self.wait_visible(&testid_css("token-input")).await;
        input.clear().await.expect("clear token field");
        input.send_keys(token).await.expect("type token");
        self.wait_visible(&testid_css("login-submit"))
            .await
            .click()
            .await
            .expect("click Sign in");
    }

    /// Save a PNG of the viewport to `path` (directories are created).
    pub async fn screenshot(&self, path: &Path) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// End the WebDriver session cleanly (dropping also cleans up, harder).
    pub async fn close(self) {
        let Browser {
            client,
            driver,
            _profile,
        } = self;
        let _ = client.close().await;
        drop(driver);
    }

    /// chromedriver's log so far, for failure messages.
    pub fn driver_log(&self) -> String {
        self.driver.log_text()
    }
}

/// CSS selector for `data-testid="{id}"`.
pub fn testid_css(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Where screenshots go: `<target dir>/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("screenshots")
}
