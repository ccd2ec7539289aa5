//! The rendering layer: the pages' templates ([`templates`]) and their
//! texts in Japanese and English ([`i18n`]). It turns a page and its
//! content into HTML; what a request means is the web layer's.

pub mod i18n;
pub mod templates;

use std::path::PathBuf;

use figment::value::magic::RelativePathBuf;
use figment::Figment;
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket};

use crate::refusal::{one_line, refuse};
use templates::Pages;

/// Where the templates are: `template_dir`, relative to the working folder
/// (or to the file that set it).
pub fn template_dir(figment: &Figment) -> Result<PathBuf, String> {
    figment
        .extract_inner::<RelativePathBuf>("template_dir")
        .map(|dir| dir.relative())
        .map_err(|e| format!("invalid template_dir: {}", one_line(&e.to_string())))
}

/// The rendering layer: at ignition it checks that `template_dir` holds
/// every template the pages need and that every text they name exists,
/// then resolves the pages once per language ([`Pages`], managed) and only
/// then attaches the layers that follow (`then`), so a refusal here opens
/// nothing of theirs.
pub fn stage(then: impl FnOnce(Rocket<Build>) -> Rocket<Build> + Send + Sync + 'static) -> AdHoc {
    AdHoc::try_on_ignite("Rendering", |rocket| async move {
        match load(rocket.figment()) {
            Ok(pages) => Ok(then(rocket.manage(pages))),
            Err(reason) => refuse(rocket, reason),
        }
    })
}

/// Every page's template must be in `template_dir`, or every page would
/// answer 500; and every text the templates name must exist.
fn load(figment: &Figment) -> Result<Pages, String> {
    let dir = template_dir(figment)?;
    let missing = templates::required()
        .map(|name| format!("{name}.html.hbs"))
        .find(|file| !dir.join(file).is_file());
    if let Some(file) = missing {
        return Err(format!(
            "template_dir `{}` lacks the app's template {file}: set ROCKET_TEMPLATE_DIR to the \
             app's templates/ folder",
            dir.display()
        ));
    }
    Pages::load(&dir).map_err(|e| format!("template_dir `{}`: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_folder_without_the_apps_templates_is_refused() {
        let elsewhere = Figment::new().merge(("template_dir", "/etc"));
        let Err(refused) = load(&elsewhere) else {
            panic!("/etc has no templates of the app");
        };
        assert!(refused.contains("template_dir `/etc`"), "{refused}");
        assert!(refused.contains("ROCKET_TEMPLATE_DIR"), "{refused}");
        let here = Figment::new().merge((
            "template_dir",
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
        ));
        assert!(load(&here).is_ok());
    }
}
