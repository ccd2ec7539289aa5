//! The pages come from the template files, read at each start: an edited
//! file changes the page from the next start on, and a template that names
//! a text the languages lack stops the start in one line.
//!
//! (A text that one language has and the other lacks is refused when the
//! catalog is read, at the same start: `i18n::tests`. The catalog is built
//! into the binary, so that case cannot be made from outside it.)

use crate::common;

use std::path::{Path, PathBuf};

use rocket::uri;
use session_app::routes;

use common::server::run_binary;
use common::{assert_redirects_to, client_with, figment, html, login, post_form, TEMPLATES};

/// A copy of the app's templates that this test may edit.
fn copy_of_templates(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("templates-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(Path::new(TEMPLATES), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces `from`, which must occur once, by `to` in template `name`.
fn edit(dir: &Path, name: &str, from: &str, to: &str) {
    let path = dir.join(format!("{name}.html.hbs"));
    let source = std::fs::read_to_string(&path).unwrap();
    assert_eq!(source.matches(from).count(), 1, "{from} in {name}");
    std::fs::write(path, source.replace(from, to)).unwrap();
}

#[test]
fn an_edited_template_changes_the_page_from_the_next_start() {
    let dir = copy_of_templates("edited");
    let started = || client_with(figment().merge(("template_dir", &dir)));
    let before = started();
    login(&before, "太郎");
    let page = html(&before, uri!(routes::output));
    assert!(page.contains("<h2>項目を追加する</h2>"), "{page}");

    edit(
        &dir,
        "output",
        r#"<h2>{{t "set_heading"}}</h2>"#,
        r#"<h2 class="edited">{{t "set_heading"}}</h2>"#,
    );
    // The running app keeps the pages it started with...
    let page = html(&before, uri!(routes::output));
    assert!(page.contains("<h2>項目を追加する</h2>"), "{page}");

    // ...and the next start shows the edit, in each language, with and
    // without a notice.
    let after = started();
    login(&after, "太郎");
    let page = html(&after, uri!(routes::output));
    assert!(
        page.contains(r#"<h2 class="edited">項目を追加する</h2>"#),
        "{page}"
    );
    let english = after
        .get(uri!(routes::output))
        .header(rocket::http::Header::new("Accept-Language", "en"))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(english.contains(r#"<h2 class="edited">"#), "{english}");
    // A page with a notice to show is its other variant: edited too.
    let response = post_form(
        &after,
        uri!(routes::set_entry),
        &[("key", "color"), ("value", "青")],
    );
    assert_redirects_to(&response, uri!(routes::output));
    drop(response);
    let page = html(&after, uri!(routes::output));
    assert!(page.contains(r#"id="notice""#), "{page}");
    assert!(
        page.contains(r#"<h2 class="edited">項目を追加する</h2>"#),
        "{page}"
    );
    edit(&dir, "base", "<main", r#"<main data-edited="yes""#);
    let restarted = started();
    login(&restarted, "太郎");
    let page = html(&restarted, uri!(routes::index));
    assert!(page.contains(r#"<main data-edited="yes""#), "{page}");
}

#[test]
fn a_template_naming_a_text_no_language_has_refuses_to_start() {
    let dir = copy_of_templates("unknown-text");
    edit(
        &dir,
        "notice_text",
        r#"{{t "flash_bytes"}}"#,
        r#"{{t "no_such_text"}}"#,
    );
    let dir = dir.display().to_string();
    let run = run_binary(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &[
            ("ROCKET_PROFILE", "debug"),
            ("ROCKET_TEMPLATE_DIR", &dir),
            ("ROCKET_PORT", "0"),
            ("ROCKET_SESSION_REVOCATION_STORE", &common::fresh_store()),
        ],
    );
    let line = run.refusal();
    assert!(line.contains("no_such_text"), "{line}");
}
