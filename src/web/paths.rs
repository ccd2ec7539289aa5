//! Route paths as Rocket matches them: for the error pages (which methods
//! a path has) and the language switch (whether a page is this site's).
//! A leaf of the web layer.

/// Whether a route path (with `<dynamic>` segments) matches `path`; a
/// trailing slash does not count, as Rocket's routing ignores it.
pub fn same_path(route: &str, path: &str) -> bool {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let (route, path): (Vec<_>, Vec<_>) = (route.split('/').collect(), path.split('/').collect());
    route.len() == path.len()
        && route
            .iter()
            .zip(&path)
            .all(|(r, p)| r == p || (r.starts_with('<') && r.ends_with('>') && !p.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::same_path;

    #[test]
    fn route_paths_match_like_rockets() {
        assert!(same_path("/login", "/login"));
        assert!(same_path("/static/<file>", "/static/app.css"));
        assert!(!same_path("/static/<file>", "/static/"));
        assert!(!same_path("/login", "/login/x"));
        assert!(!same_path("/", "/nope"));
        assert!(same_path("/login", "/login/"));
        assert!(same_path("/", "/"));
    }
}
