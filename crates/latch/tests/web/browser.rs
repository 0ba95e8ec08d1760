//! Driving the web UI in headless Chromium: signing in, waiting for elements, reading text, screenshots.

use latch_testkit::browser::fantoccini::{Client, Locator};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// One person's browser on one server.
pub struct Browser {
    pub client: Client,
    base: String,
    logs: Option<std::path::PathBuf>,
}

impl Browser {
    /// A browser for the server at `base` whose logs are in `logs` (shown when a step fails).
    pub async fn open(driver: &latch_testkit::browser::Chromedriver, base: &str, logs: &std::path::Path) -> Browser {
        let client = driver.new_session().await.unwrap();
        Browser { client, base: base.to_owned(), logs: Some(logs.to_owned()) }
    }

    fn logs(&self) -> String {
        let Some(dir) = &self.logs else { return String::new() };
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        format!("server log:\n{}{}", read("serve.stdout"), read("serve.stderr"))
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The path of the current page.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits until the browser is on `path` (a click's navigation may still be under way), and fails after a while.
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let current = self.path().await;
            if current == path {
                return;
            }
            if std::time::Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                panic!("still on {current}, not {path}:\n{source}\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until nothing matches `selector`.
    pub async fn wait_until_gone(&self, selector: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        while self.client.find(Locator::Css(selector)).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "`{selector}` is still there on {}", self.path().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for `selector` and returns it.
    pub async fn find(&self, selector: &str) -> latch_testkit::browser::fantoccini::elements::Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(selector)).await {
            Ok(element) => element,
            Err(err) => {
                let source = self.client.source().await.unwrap_or_default();
                panic!("no `{selector}` on {} ({err}):\n{source}\n{}", self.path().await, self.logs())
            }
        }
    }

    pub async fn text(&self, selector: &str) -> String {
        self.find(selector).await.text().await.unwrap()
    }

    pub async fn fill(&self, selector: &str, value: &str) {
        let field = self.find(selector).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, selector: &str) {
        self.find(selector).await.click().await.unwrap();
    }

    /// Signs in with the password (and the TOTP code when given) and waits for the next page.
    pub async fn sign_in(&self, username: &str, password: &str, totp_code: Option<String>) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#sign-in").await;
        if let Some(code) = totp_code {
            self.fill("#code", &code).await;
            self.click("#verify").await;
        }
        self.find("main h1").await;
    }

    /// POSTs `body` (a form) to `path` from the page with `fetch`, with extra `headers`; returns the status.
    pub async fn post_from_page(&self, path: &str, body: &str, headers: serde_json::Value) -> u16 {
        let script = r#"
            const [path, body, extra, done] = arguments;
            const headers = Object.assign({"Content-Type": "application/x-www-form-urlencoded"}, extra);
            fetch(path, {method: "POST", body, headers, redirect: "manual"})
                .then(response => done(response.status), error => done(String(error)));
        "#;
        let args = vec![serde_json::json!(path), serde_json::json!(body), headers];
        let status = self.client.execute_async(script, args).await.unwrap();
        let status = status.as_u64().unwrap_or_else(|| panic!("fetch failed: {status}"));
        u16::try_from(status).unwrap()
    }

    /// The page's CSRF token from its `<meta>` tag.
    pub async fn csrf_token(&self) -> String {
        self.find(r#"meta[name="latch-csrf"]"#).await.attr("content").await.unwrap().unwrap()
    }

    /// Saves a screenshot as `NAME.png` in the build output's `web-screenshots/`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// `$CARGO_TARGET_DIR/web-screenshots`, found from the `latch` binary's place (TARGET/debug/latch).
fn screenshot_dir() -> PathBuf {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_latch"));
    let target = binary.parent().and_then(|profile| profile.parent()).unwrap().to_owned();
    target.join("web-screenshots")
}
