//! A person's walk through the app in headless Chromium, over WebDriver:
//! log in with a Japanese name, reload, delete the name, log in again, log
//! out, and submit an empty name. No console errors allowed (a CSP
//! violation is one). Leaves a screenshot in `target/`.

mod common;

use rocket::uri;
use session_app::routes;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{answers, free_port, wait_until, Server};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const PACKAGES: &str =
    "Debian packages `chromium` and `chromium-driver` (apt-get install chromium chromium-driver)";

/// The flags every Chromium start uses here: no sandbox as root, and no
/// background traffic on a machine without a network.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates.iter().find_map(|name| {
        std::env::split_paths(&path)
            .chain([
                PathBuf::from("/usr/bin"),
                PathBuf::from("/usr/lib/chromium"),
            ])
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free port, stopped on drop.
struct Driver(Child, u16);

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut driver = Driver(child, port);
        wait_until(
            &mut driver.0,
            "chromedriver",
            || answers(port, "/status"),
            String::new,
        );
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ChromeDriver's log endpoint, which W3C WebDriver lacks: the console.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// Console messages at error level since the last call.
async fn console_errors(browser: &Client) -> Vec<String> {
    let log = browser
        .issue_cmd(BrowserLog)
        .await
        .expect("the browser log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn path_of(browser: &Client) -> String {
    browser.current_url().await.unwrap().path().to_owned()
}

/// Waits (up to ten seconds) for a click's navigation to land on `path`.
async fn wait_for_path(browser: &Client, path: rocket::http::uri::Origin<'_>) {
    let path = path.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while path_of(browser).await != path {
        assert!(
            Instant::now() < deadline,
            "never reached {path}: at {}",
            path_of(browser).await
        );
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser
        .wait()
        .for_element(Locator::Css("main h1"))
        .await
        .unwrap();
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn log_in(browser: &Client, base: &str, name: &str) {
    browser.goto(base).await.unwrap();
    let field = browser
        .wait()
        .for_element(Locator::Id("name"))
        .await
        .unwrap();
    field.send_keys(name).await.unwrap();
    let button = browser
        .find(Locator::Css(
            r#"form[action="/login"] button[type="submit"]"#,
        ))
        .await
        .unwrap();
    assert_eq!(button.text().await.unwrap(), "ログイン");
    button.click().await.unwrap();
}

async fn js(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.unwrap()
}

#[test]
fn a_person_logs_in_deletes_the_name_and_logs_out() {
    let (Some(chromium), Some(chromedriver)) = (
        find_program(&["chromium", "chromium-browser"]),
        find_program(&["chromedriver"]),
    ) else {
        let message =
            format!("the browser test needs Chromium and ChromeDriver: install the {PACKAGES}");
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipped: {message}");
        return;
    };

    let server = Server::start(&[]);
    let driver = Driver::start(&chromedriver);
    let profile = std::env::temp_dir().join(format!("session-app-chromium-{}", std::process::id()));
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push("--lang=ja".to_owned());
    args.push("--accept-lang=ja".to_owned());
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": args,
            "prefs": { "intl.accept_languages": "ja" },
            // A phone's screen.
            "mobileEmulation": { "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 1.0 } },
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });

    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{}", driver.1))
            .await
            .expect("a WebDriver session");
        let base = server.url(uri!(routes::index));

        // Log in with a Japanese name.
        log_in(&browser, &base, "山田太郎").await;
        wait_for_path(&browser, uri!(routes::output)).await;
        assert_eq!(text_of(&browser, "h1").await, "セッション情報：「山田太郎」");
        assert_eq!(browser.title().await.unwrap(), "セッション情報 – セッション確認");

        // The stylesheet applied under the CSP, the page fits a phone, the
        // input is labelled, and focus is visible.
        let styled = js(&browser, "return getComputedStyle(document.querySelector('#logout')).borderRadius").await;
        assert_eq!(styled, "8px");
        let width = js(&browser, "return [window.innerWidth, document.documentElement.scrollWidth]").await;
        assert_eq!(width, json!([390, 390]), "no sideways scrolling at a phone's width");

        // Reload: still there.
        browser.refresh().await.unwrap();
        assert_eq!(text_of(&browser, "h1").await, "セッション情報：「山田太郎」");
        let shot = browser.screenshot().await.unwrap();
        let shot_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-output.png");
        std::fs::write(&shot_path, shot).unwrap();
        eprintln!("screenshot: {}", shot_path.display());
        let focus = js(
            &browser,
            "const b = document.querySelector('#logout'); b.focus(); \
             return b.matches(':focus-visible') ? getComputedStyle(b).outlineStyle : 'not focus-visible'",
        )
        .await;
        assert_eq!(focus, "solid");

        // Delete the `name` entry with its own button: back to the login page.
        browser.find(Locator::Css(r#"button[name="key"][value="name"]"#)).await.unwrap().click().await.unwrap();
        wait_for_path(&browser, uri!(routes::index)).await;
        let labelled = js(&browser, "return document.getElementById('name').labels[0].textContent").await;
        assert_eq!(labelled, "名前：");

        // Log in again, then log out with the button.
        log_in(&browser, &base, "山田太郎").await;
        wait_for_path(&browser, uri!(routes::output)).await;
        browser.find(Locator::Id("logout")).await.unwrap().click().await.unwrap();
        wait_for_path(&browser, uri!(routes::index)).await;
        assert_eq!(text_of(&browser, r#"[role="status"]"#).await, "ログアウトしました。");

        // The output page now sends the browser back to the login page.
        browser.goto(&server.url(uri!(routes::output))).await.unwrap();
        assert_eq!(path_of(&browser).await, uri!(routes::index).to_string());

        // An empty name: the alert is visible.
        log_in(&browser, &base, "").await;
        let alert = browser.wait().for_element(Locator::Css(r#"[role="alert"]"#)).await.unwrap();
        assert!(alert.is_displayed().await.unwrap());
        assert_eq!(alert.text().await.unwrap(), "名前を入力してください。");

        let errors = console_errors(&browser).await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
        browser.close().await.unwrap();
    });
    let _ = std::fs::remove_dir_all(profile);
}
