//! A person's walk through the app in headless Chromium, over WebDriver:
//! log in with a Japanese name, reload, add and delete entries, delete the
//! name, log in again, log out, submit an empty name, find the way back
//! from a stale form and a wrong method, switch languages, and move with
//! the keyboard; sessions that time out are explained. No console errors
//! allowed (a CSP violation is one). Every page is photographed in both
//! languages at a phone's and a desktop's width, under `target/tmp/`.

use crate::common;

use rocket::uri;
use session_app::routes;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{answers, free_port, stop, wait_until, Server};
use common::CSRF_COOKIE;
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
        stop(&mut self.0);
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
    click_through(browser, button).await;
}

async fn js(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.unwrap()
}

/// Chromium and chromedriver, or `None` (a skip outside CI) when missing.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let found =
        find_program(&["chromium", "chromium-browser"]).zip(find_program(&["chromedriver"]));
    if found.is_none() {
        common::skip_outside_ci(&format!(
            "the browser test needs Chromium and ChromeDriver: install the {PACKAGES}"
        ));
    }
    found
}

/// A screen: a phone's width (emulated) or a desktop window.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    Phone(u32),
    Desktop,
}

impl Screen {
    fn label(self) -> String {
        match self {
            Screen::Phone(width) => format!("phone{width}"),
            Screen::Desktop => "desktop1280".to_owned(),
        }
    }

    fn width(self) -> u64 {
        match self {
            Screen::Phone(width) => width.into(),
            Screen::Desktop => 1280,
        }
    }
}

/// A fresh Chromium (its own empty profile) on `screen`, preferring
/// Japanese, driven through `driver`.
async fn open_browser(chromium: &Path, driver: &Driver, screen: Screen, profile: &Path) -> Client {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push("--lang=ja".to_owned());
    args.push("--accept-lang=ja".to_owned());
    let mut options = json!({
        "binary": chromium,
        "args": args,
        "prefs": { "intl.accept_languages": "ja" },
    });
    match screen {
        Screen::Phone(width) => {
            options["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": width, "height": 844, "pixelRatio": 1.0 } });
        }
        Screen::Desktop => {
            options["args"]
                .as_array_mut()
                .unwrap()
                .push(json!("--window-size=1280,800"));
        }
    }
    let capabilities = json!({
        "goog:chromeOptions": options,
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a WebDriver session")
}

/// A folder for one browser's profile, removed when dropped.
struct Profile(PathBuf);

impl Profile {
    fn new(label: &str) -> Profile {
        Profile(std::env::temp_dir().join(format!(
            "session-app-chromium-{}-{label}",
            std::process::id()
        )))
    }
}

impl Profile {
    /// The processes running on this profile: Chromium and its helpers,
    /// each started with `--user-data-dir=` this folder.
    fn processes(&self) -> Vec<String> {
        let flag = format!("--user-data-dir={}", self.0.display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter(|entry| {
                std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
                    cmdline.split(|b| *b == 0).any(|arg| arg == flag.as_bytes())
                })
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        // A walk that failed never closed its browser: end what still runs
        // on this profile, by process id, then remove it.
        let running = self.processes();
        if !running.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&running).status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `walk` in one browser on `screen` against `server`.
fn with_browser<F>(server: &Server, screen: Screen, label: &str, walk: F)
where
    F: for<'a> FnOnce(
        &'a Client,
        &'a Server,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
{
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let driver = Driver::start(&chromedriver);
    let profile = Profile::new(label);
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = open_browser(&chromium, &driver, screen, &profile.0).await;
        walk(&browser, server).await;
        let errors: Vec<String> = console_errors(&browser)
            .await
            .into_iter()
            .filter(|error| !error_page_visited_on_purpose(error))
            .collect();
        assert!(errors.is_empty(), "console errors: {errors:#?}");
        browser.close().await.unwrap();
    });
}

/// The walks open error pages on purpose (a stale form, a wrong method, a
/// missing page); Chromium logs each such document load as an error.
fn error_page_visited_on_purpose(error: &str) -> bool {
    [
        ("/login", 403),
        ("/session/delete", 405),
        ("/no/such/page", 404),
    ]
    .iter()
    .any(|(path, status)| {
        error.contains(&format!(
            "{path} - Failed to load resource: the server responded with a status of {status} "
        ))
    })
}

/// Saves a screenshot as `target/tmp/NAME.png`.
async fn photograph(browser: &Client, name: &str) {
    let shot = browser.screenshot().await.unwrap();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    std::fs::write(&path, shot).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// Asserts nothing on the page scrolls sideways at `width`.
async fn fits(browser: &Client, width: u64, page: &str) {
    let measured = js(
        browser,
        "const d = document.documentElement;          return [window.innerWidth, d.scrollWidth <= d.clientWidth]",
    )
    .await;
    assert_eq!(
        measured,
        json!([width, true]),
        "{page}: no sideways scrolling"
    );
}

/// Clicks `css`, which leads to another page, and waits for that page to
/// replace this one: see [`left`].
async fn click(browser: &Client, css: &str) {
    let element = browser.find(Locator::Css(css)).await.unwrap();
    click_through(browser, element).await;
}

/// Clicks `element` and waits until the page it was on is gone.
async fn click_through(browser: &Client, element: fantoccini::elements::Element) {
    let before = browser.find(Locator::Css("html")).await.unwrap();
    element.click().await.unwrap();
    left(before).await;
}

/// Waits for the event "the page `root` belonged to was replaced", not for
/// an address: a form answered on the page's own address (a refusal, an
/// entry added on the session page) cannot be told apart by its address,
/// and a click racing the next page's load finds stale elements.
async fn left(root: fantoccini::elements::Element) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while root.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "the page never changed");
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Adds an entry with the form on the session page.
async fn add_entry(browser: &Client, key: &str, value: &str) {
    fill(browser, "#key", key).await;
    fill(browser, "#value", value).await;
    click(browser, "#set").await;
    wait_for_path(browser, uri!(routes::output)).await;
}

/// Which element has focus after each of `presses` Tab keys.
async fn tab_stops(browser: &Client, presses: usize) -> Vec<String> {
    js(
        browser,
        "document.activeElement && document.activeElement.blur(); window.focus(); return null",
    )
    .await;
    let mut stops = Vec::new();
    for _ in 0..presses {
        browser
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{E004}")
            .await
            .unwrap();
        let stop = js(
            browser,
            "const e = document.activeElement; \
             return e.id ? '#' + e.id : (e.getAttribute('hreflang') ? 'lang:' + e.getAttribute('hreflang') \
             : e.className ? '.' + e.className : e.tagName + ':' + e.textContent)",
        )
        .await;
        stops.push(stop.as_str().unwrap_or_default().to_owned());
    }
    stops
}

/// The focused element shows a solid outline of at least 3 px.
async fn focus_is_visible(browser: &Client) {
    let style = js(
        browser,
        "const e = document.activeElement; const s = getComputedStyle(e); \
         return [e.matches(':focus-visible'), s.outlineStyle, parseFloat(s.outlineWidth) >= 3]",
    )
    .await;
    assert_eq!(style, json!([true, "solid", true]));
}

#[test]
fn a_person_logs_in_deletes_the_name_and_logs_out() {
    let server = Server::start(&[]);
    with_browser(&server, Screen::Phone(390), "walk", |browser, server| {
        Box::pin(async move {
            let base = server.url(uri!(routes::index));

            // The login page, by keyboard: skip link, language, name, button;
            // focus is visible.
            browser.goto(&base).await.unwrap();
            assert_eq!(browser.title().await.unwrap(), "ログイン – セッション確認");
            let stops = tab_stops(browser, 4).await;
            assert_eq!(stops[..3], [".skip", "lang:en", "#name"], "{stops:?}");
            assert!(stops[3].starts_with("BUTTON:ログイン"), "{stops:?}");
            browser
                .find(Locator::Id("name"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            tab_stops(browser, 3).await;
            focus_is_visible(browser).await;

            // Log in with a Japanese name.
            log_in(browser, &base, "山田太郎").await;
            wait_for_path(browser, uri!(routes::output)).await;
            assert_eq!(text_of(browser, "h1").await, "セッション情報：「山田太郎」");
            assert_eq!(
                browser.title().await.unwrap(),
                "セッション情報 – セッション確認"
            );
            let time = js(browser, "const t = document.querySelector('time'); return [t.dateTime.endsWith('Z'), t.textContent.endsWith('（日本時間）')]").await;
            assert_eq!(time, json!([true, true]));

            // The stylesheet applied under the CSP, the page fits a phone, the
            // input is labelled, and focus is visible.
            let styled = js(
                browser,
                "return getComputedStyle(document.querySelector('#logout')).borderRadius",
            )
            .await;
            assert_eq!(styled, "8px");
            fits(browser, 390, "output").await;

            // Reload: still there.
            browser.refresh().await.unwrap();
            assert_eq!(text_of(browser, "h1").await, "セッション情報：「山田太郎」");
            photograph(browser, "browser-output").await;
            let focus = js(
            browser,
            "const b = document.querySelector('#logout'); b.focus(); \
             return b.matches(':focus-visible') ? getComputedStyle(b).outlineStyle : 'not focus-visible'",
        )
        .await;
            assert_eq!(focus, "solid");

            // Add two entries, delete one: the other stays.
            add_entry(browser, "color", "青").await;
            assert_eq!(
                text_of(browser, r#"[role="status"]"#).await,
                "セッションに追加しました：color"
            );
            add_entry(browser, "size", "L").await;
            click(browser, r#"button[name="key"][value="color"]"#).await;
            wait_for_path(browser, uri!(routes::output)).await;
            assert_eq!(
                text_of(browser, r#"[role="status"]"#).await,
                "セッションから削除しました：color"
            );
            let keys = js(
                browser,
                "return [...document.querySelectorAll('tbody code')].map(c => c.textContent)",
            )
            .await;
            assert_eq!(keys, json!(["logged_in_at", "name", "size"]));

            // The front page knows who is logged in.
            browser.goto(&base).await.unwrap();
            assert_eq!(
                text_of(browser, "h1").await,
                "「山田太郎」としてログインしています。"
            );
            click(browser, r#"a[href="/output"]"#).await;
            wait_for_path(browser, uri!(routes::output)).await;

            // Delete the `name` entry with its own button: back to the login
            // page, told so.
            let label = text_of(browser, r#"button[name="key"][value="name"]"#).await;
            assert_eq!(label, "削除してログアウト");
            click(browser, r#"button[name="key"][value="name"]"#).await;
            wait_for_path(browser, uri!(routes::index)).await;
            assert_eq!(
                text_of(browser, r#"[role="status"]"#).await,
                "名前を削除しました。ログアウトした状態です。"
            );
            let labelled = js(
                browser,
                "return document.getElementById('name').labels[0].textContent",
            )
            .await;
            assert_eq!(labelled, "名前：");

            // Log in again, then log out with the button.
            log_in(browser, &base, "山田太郎").await;
            wait_for_path(browser, uri!(routes::output)).await;
            click(browser, "#logout").await;
            wait_for_path(browser, uri!(routes::index)).await;
            assert_eq!(
                text_of(browser, r#"[role="status"]"#).await,
                "ログアウトしました。"
            );

            // The output page now sends the browser back to the login page.
            browser
                .goto(&server.url(uri!(routes::output)))
                .await
                .unwrap();
            assert_eq!(path_of(browser).await, uri!(routes::index).to_string());

            // An empty name: the alert is visible, and the field says so.
            log_in(browser, &base, "").await;
            let alert = browser
                .wait()
                .for_element(Locator::Css(r#"[role="alert"]"#))
                .await
                .unwrap();
            assert!(alert.is_displayed().await.unwrap());
            assert_eq!(alert.text().await.unwrap(), "名前を入力してください。");
            let invalid = js(browser, "const n = document.getElementById('name'); return [n.getAttribute('aria-invalid'), n.getAttribute('aria-describedby')]").await;
            assert_eq!(invalid, json!(["true", "name-hint name-error"]));

            // A stale form: the token cookie is gone (a browser restart). The
            // 403 page leads back to a fresh form, which works.
            browser.goto(&base).await.unwrap();
            browser.delete_cookie(CSRF_COOKIE).await.unwrap();
            log_in_here(browser, "山田太郎").await;
            assert_eq!(
                browser.title().await.unwrap(),
                "エラー：このフォームは期限切れです（403） – セッション確認"
            );
            click(browser, r#"main a[href="/"]"#).await;
            wait_for_path(browser, uri!(routes::index)).await;
            log_in_here(browser, "山田太郎").await;
            wait_for_path(browser, uri!(routes::output)).await;

            // A wrong method: a page in the app's style, with a way back.
            browser
                .goto(&server.url(uri!(routes::delete_key)))
                .await
                .unwrap();
            assert_eq!(
                browser.title().await.unwrap(),
                "エラー：この方法では開けません（405） – セッション確認"
            );
            assert_eq!(
                text_of(browser, "main p").await,
                "このアドレスはページのフォーム専用のため、直接は開けません。ページに戻り、ボタンから操作してください。"
            );
            click(browser, r#"main a[href="/"]"#).await;
            wait_for_path(browser, uri!(routes::index)).await;

            // The language switch: English, back on the same page, then Japanese.
            browser
                .goto(&server.url(uri!(routes::output)))
                .await
                .unwrap();
            click(browser, r#"a[hreflang="en"]"#).await;
            wait_for_path(browser, uri!(routes::output)).await;
            assert_eq!(
                text_of(browser, "h1").await,
                "Session information: “山田太郎”"
            );
            click(browser, r#"a[hreflang="ja"]"#).await;
            wait_for_path(browser, uri!(routes::output)).await;
            assert_eq!(text_of(browser, "h1").await, "セッション情報：「山田太郎」");
        })
    });
}

/// Submits the login form on the page as it is.
async fn log_in_here(browser: &Client, name: &str) {
    fill(browser, "#name", name).await;
    // Once the page is gone, the answer has landed (a refused name comes
    // back to the same address, so the address cannot tell).
    click(browser, r#"form[action="/login"] button[type="submit"]"#).await;
    browser
        .wait()
        .for_element(Locator::Css("main h1"))
        .await
        .unwrap();
}

#[test]
fn a_session_that_times_out_is_explained_in_the_browser() {
    // Tiny timeouts through configuration; the browser waits them out.
    let server = Server::start(&[
        ("ROCKET_SESSION_IDLE_TIMEOUT", "1"),
        ("ROCKET_SESSION_ABSOLUTE_TIMEOUT", "60"),
    ]);
    with_browser(&server, Screen::Phone(390), "expiry", |browser, server| {
        Box::pin(async move {
            let base = server.url(uri!(routes::index));
            log_in(browser, &base, "山田太郎").await;
            wait_for_path(browser, uri!(routes::output)).await;
            rocket::tokio::time::sleep(Duration::from_millis(1200)).await;
            browser.refresh().await.unwrap();
            wait_for_path(browser, uri!(routes::index)).await;
            let alert = text_of(browser, r#"[role="alert"]"#).await;
            assert!(alert.contains("一定時間が過ぎたため"), "{alert}");
        })
    });
}

#[test]
fn every_page_in_both_languages_at_a_phone_and_a_desktop_width() {
    let server = Server::start(&[]);
    for screen in [Screen::Phone(320), Screen::Phone(390), Screen::Desktop] {
        with_browser(&server, screen, &screen.label(), move |browser, server| {
            Box::pin(async move {
                let base = server.url(uri!(routes::index));
                let width = screen.width();
                for lang in ["ja", "en"] {
                    // The language chosen with the link, on the login page.
                    browser.goto(&base).await.unwrap();
                    let switch = format!(r#"a[hreflang="{lang}"]"#);
                    if browser.find(Locator::Css(&switch)).await.is_ok() {
                        click(browser, &switch).await;
                        wait_for_path(browser, uri!(routes::index)).await;
                    }
                    let html_lang = js(browser, "return document.documentElement.lang").await;
                    assert_eq!(html_lang, lang);
                    let shoot = |page: &'static str| {
                        let name = format!("page-{page}-{lang}-{}", screen.label());
                        async move {
                            fits(browser, width, &name).await;
                            photograph(browser, &name).await;
                        }
                    };
                    shoot("login").await;
                    log_in_here(browser, "").await;
                    shoot("login-refused").await;
                    log_in_here(browser, "山田太郎").await;
                    wait_for_path(browser, uri!(routes::output)).await;
                    add_entry(
                        browser,
                        "favourite_colour",
                        "とても長い値を入れても横にはみ出さないことを確かめるための文字列です",
                    )
                    .await;
                    shoot("output").await;
                    // The README's pictures, as the pages are now, go
                    // under target/ beside the others: docs/ keeps the
                    // reviewed copies (copy them over after a review), so
                    // a test run leaves the tree as it found it.
                    let readme = match (lang, screen) {
                        ("ja", Screen::Phone(390)) => Some("output-ja-phone"),
                        ("en", Screen::Desktop) => Some("output-en-desktop"),
                        _ => None,
                    };
                    if let Some(name) = readme {
                        let shot = browser.screenshot().await.unwrap();
                        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme");
                        std::fs::create_dir_all(&folder).unwrap();
                        std::fs::write(folder.join(format!("{name}.png")), shot).unwrap();
                    }
                    browser.goto(&base).await.unwrap();
                    shoot("front-logged-in").await;
                    browser
                        .goto(&server.url(uri!(routes::logout_page)))
                        .await
                        .unwrap();
                    shoot("logout").await;
                    browser.goto(&server.url("/no/such/page")).await.unwrap();
                    shoot("error-404").await;
                    browser
                        .goto(&server.url(uri!(routes::delete_key)))
                        .await
                        .unwrap();
                    shoot("error-405").await;
                    browser.goto(&base).await.unwrap();
                    browser.delete_cookie(CSRF_COOKIE).await.unwrap();
                    log_in_here(browser, "山田太郎").await;
                    shoot("error-403").await;
                    // Log out for the next language's round.
                    browser
                        .goto(&server.url(uri!(routes::logout_page)))
                        .await
                        .unwrap();
                    click(browser, "#logout").await;
                    wait_for_path(browser, uri!(routes::index)).await;
                }
            })
        });
    }
}

#[test]
fn a_failed_walk_leaves_no_browser_behind() {
    if browser_programs().is_none() {
        return;
    }
    let server = Server::start(&[]);
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_browser(&server, Screen::Desktop, "failing", |browser, server| {
            Box::pin(async move {
                browser
                    .goto(&server.url(uri!(routes::index)))
                    .await
                    .unwrap();
                panic!("a walk that fails, on purpose");
            })
        })
    }));
    assert!(failed.is_err(), "the walk failed");
    // The browser it started was ended with it, by process id.
    let profile = Profile::new("failing");
    assert!(common::server::eventually(|| profile
        .processes()
        .is_empty()));
}

/// Long values of several scripts, and keys a person counts.
const LONG_VALUES: [(&str, &str); 4] = [
    ("s10", "x"),
    ("s2", "y"),
    ("latin", "abcdefghij"),
    ("kana", "あいうえおかきくけこ"),
];

#[test]
fn the_session_table_keeps_its_shape_with_one_primary_action() {
    let server = Server::start(&[]);
    for screen in [Screen::Desktop, Screen::Phone(390), Screen::Phone(320)] {
        with_browser(
            &server,
            screen,
            &format!("table-{}", screen.label()),
            move |browser, server| {
                Box::pin(async move {
                    let base = server.url(uri!(routes::index));
                    log_in(browser, &base, "山田太郎").await;
                    wait_for_path(browser, uri!(routes::output)).await;
                    // 200 characters without a space, in each script.
                    for (key, unit) in LONG_VALUES {
                        let value = unit.repeat(200 / unit.chars().count());
                        add_entry(browser, key, &value).await;
                    }
                    fits(
                        browser,
                        screen.width(),
                        &format!("table-{}", screen.label()),
                    )
                    .await;
                    // Listed as a person counts.
                    let keys = js(
                    browser,
                    "return [...document.querySelectorAll('.entries th[scope=row] code')].map(c => c.textContent)",
                )
                .await;
                    assert_eq!(
                        keys,
                        json!(["logged_in_at", "name", "kana", "latin", "s2", "s10"])
                    );
                    // The table stays inside the card.
                    let inside = js(
                        browser,
                        "const t = document.querySelector('.entries').getBoundingClientRect(); \
                     const m = document.querySelector('main').getBoundingClientRect(); \
                     return t.right <= m.right + 0.5 && t.left >= m.left - 0.5",
                    )
                    .await;
                    assert_eq!(inside, json!(true), "{}", screen.label());
                    if screen == Screen::Desktop {
                        // Each key, and each button, on one line.
                        let one_line = js(
                        browser,
                        "const lines = e => { const r = document.createRange(); r.selectNodeContents(e); \
                           return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }; \
                         return [...document.querySelectorAll('.entries th[scope=row] code, .entries button')] \
                           .filter(e => lines(e) !== 1).map(e => e.textContent)",
                    )
                    .await;
                        assert_eq!(one_line, json!([]), "broken inside a word");
                    } else {
                        // Row actions are small and outlined; one filled action.
                        let buttons = js(
                        browser,
                        "const card = document.querySelector('main').getBoundingClientRect().width; \
                         const filled = b => getComputedStyle(b).backgroundColor !== 'rgba(0, 0, 0, 0)'; \
                         return { wide: [...document.querySelectorAll('.entries button')] \
                                   .filter(b => b.getBoundingClientRect().width > card * 0.6).length, \
                                  filled: [...document.querySelectorAll('main button')] \
                                   .filter(filled).map(b => b.id) }",
                    )
                    .await;
                        assert_eq!(buttons, json!({ "wide": 0, "filled": ["set"] }));
                    }
                    // A refused key: both fields come back as typed, the key
                    // marked, the summary at the top focused.
                    fill(browser, "#key", "no spaces").await;
                    fill(browser, "#value", "青").await;
                    click(browser, "#set").await;
                    wait_for_path(browser, uri!(routes::output)).await;
                    let form = js(
                    browser,
                    "const k = document.getElementById('key'), v = document.getElementById('value'); \
                     return [k.value, v.value, k.getAttribute('aria-invalid'), document.activeElement.id]",
                )
                .await;
                    assert_eq!(form, json!(["no spaces", "青", "true", "notice"]));
                    // Its link leads to the field, with the field's label and
                    // reason on screen above it (a phone's page is long).
                    browser
                        .find(Locator::Css("#notice a"))
                        .await
                        .unwrap()
                        .click()
                        .await
                        .unwrap();
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while js(browser, "return document.activeElement.id").await != json!("key") {
                        assert!(
                            Instant::now() < deadline,
                            "the link never focused the field"
                        );
                        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let on_screen = js(
                        browser,
                        "const seen = e => { const r = e.getBoundingClientRect(); \
                           return r.top >= 0 && r.bottom <= window.innerHeight; }; \
                         return ['label[for=key]', '#key-error', '#key'] \
                           .filter(css => !seen(document.querySelector(css)))",
                    )
                    .await;
                    assert_eq!(on_screen, json!([]), "off screen, {}", screen.label());
                    let reason = text_of(browser, "#key-error").await;
                    assert!(
                        reason.ends_with("キーは1〜32文字の英数字、_、- で入力してください。"),
                        "{reason}"
                    );
                    // The skip link, once focused, covers nothing.
                    let clear = js(
                    browser,
                    "const s = document.querySelector('.skip'); s.focus(); \
                     const a = s.getBoundingClientRect(), h = document.querySelector('h1').getBoundingClientRect(); \
                     return a.bottom <= h.top || a.top >= h.bottom",
                )
                .await;
                    assert_eq!(clear, json!(true));
                })
            },
        );
    }
}

/// The words of `css`'s text that a line break splits, by the browser's
/// own Japanese word segmentation (`により` is one word).
async fn split_words(browser: &Client, css: &str) -> Value {
    js(
        browser,
        &format!(
            "const p = document.querySelector('{css}'); const node = p.firstChild; \
             const words = new Intl.Segmenter(document.documentElement.lang, {{granularity: 'word'}}); \
             return [...words.segment(node.textContent)].filter(w => w.isWordLike).filter(w => {{ \
               const r = document.createRange(); r.setStart(node, w.index); \
               r.setEnd(node, w.index + w.segment.length); \
               return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; \
             }}).map(w => w.segment)"
        ),
    )
    .await
}

#[test]
fn a_logout_elsewhere_is_explained_without_breaking_a_word() {
    let server = Server::start(&[]);
    for screen in [Screen::Phone(320), Screen::Phone(390)] {
        with_browser(
            &server,
            screen,
            &format!("elsewhere-{}", screen.label()),
            move |browser, server| {
                Box::pin(async move {
                    let base = server.url(uri!(routes::index));
                    log_in(browser, &base, "山田太郎").await;
                    wait_for_path(browser, uri!(routes::output)).await;
                    let copy = browser.get_named_cookie("session").await.unwrap();
                    click(browser, "#logout").await;
                    wait_for_path(browser, uri!(routes::index)).await;
                    // The copy, put back: the session it names was ended.
                    browser.add_cookie(copy).await.unwrap();
                    browser
                        .goto(&server.url(uri!(routes::output)))
                        .await
                        .unwrap();
                    wait_for_path(browser, uri!(routes::index)).await;
                    let alert = text_of(browser, r#"[role="alert"]"#).await;
                    assert!(alert.contains("別の場所でログアウトしたため"), "{alert}");
                    // After the redirect, focus is on the message.
                    let focused = js(browser, "return document.activeElement.id").await;
                    assert_eq!(focused, json!("notice"));
                    assert_eq!(split_words(browser, r#"[role="alert"]"#).await, json!([]));
                })
            },
        );
    }
}
