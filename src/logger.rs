//! The app's log: one line per event, as text or as one JSON object
//! (`log_format = "json"`), each with its RFC 3339 time and level. Request
//! lines and session events come from the app's own code; Rocket's own
//! lines below a warning (its per-request chatter) are left out unless the
//! level is `debug`. A leaf: it formats what it is given, and the app takes
//! care never to give it a name, a token, a cookie or a session identifier.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};
use rocket::config::LogLevel;
use rocket::time::format_description::well_known::Rfc3339;
use rocket::time::OffsetDateTime;

/// How each line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `TIME LEVEL message key=value …`
    Text,
    /// `{"time": …, "level": …, "message": …, "key": value, …}`
    Json,
}

/// Writes the lines to stdout.
struct Logger {
    format: Format,
    /// Rocket's own info lines too (the `debug` level).
    chatty: bool,
}

/// Installs the log for `level` and `format`, before Rocket's would be:
/// Rocket then keeps to it. Says whether it was installed (a process has
/// one log).
pub fn install(level: LogLevel, format: Format) -> bool {
    let filter = match level {
        LogLevel::Off => LevelFilter::Off,
        LogLevel::Critical => LevelFilter::Warn,
        LogLevel::Normal => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Trace,
    };
    let logger = Logger {
        format,
        chatty: level == LogLevel::Debug,
    };
    let installed = log::set_boxed_logger(Box::new(logger)).is_ok();
    if installed {
        log::set_max_level(filter);
    }
    installed
}

/// Whether a line comes from the app or its session crate, rather than
/// from Rocket. Rocket's generated code logs under the app's module path,
/// with `::_` at the end: those lines are Rocket's.
fn is_ours(target: &str) -> bool {
    (target.starts_with("session_app") || target.starts_with("rocket_sealed_sessions"))
        && !target.ends_with("::_")
}

/// Rocket's lines for routine events, which it writes as warnings or
/// errors: a guard that forwards (every anonymous visit to a page that
/// needs a login), a form a guard refused (every CSRF refusal, which the
/// app logs itself), a path no route serves (every bot's probe) and the
/// catcher that answers it, a request or header it cannot read (what any
/// client may send), and the launch and a stop (the app writes its own
/// lines for both). WARN and ERROR are kept for what an operator should act on:
/// these show at `debug` only.
fn is_routine(record: &Record<'_>) -> bool {
    if is_ours(record.target()) || record.level() > Level::Warn {
        return false;
    }
    let message = record.args().to_string();
    [
        "Request guard `",
        "Data guard `",
        "No matching routes for ",
        "Responding with registered ",
        "Rocket has launched",
        // A stop asked for (systemctl stop, a restart): the app writes
        // `stopped` once the requests in flight are done. A second signal
        // during the stop is still a warning.
        "Received SIGTERM. Requesting shutdown.",
        "Received SIGINT. Requesting shutdown.",
        // A request Rocket cannot read (an unknown method, a target that
        // is not a path): the app writes its request line.
        "Bad incoming HTTP request",
        "Error: invalid or unrecognized method",
        "Error: invalid origin URI",
        "Dispatching salvaged request",
        // A header value that is not UTF-8, which Rocket drops.
        "Header '",
        "Rocket only supports UTF-8 header values",
    ]
    .iter()
    .any(|routine| message.starts_with(routine))
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let rockets = !is_ours(metadata.target());
        metadata.level() <= log::max_level()
            && (self.chatty || !rockets || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) || (!self.chatty && is_routine(record)) {
            return;
        }
        let time = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let line = match self.format {
            Format::Text => text_line(&time, record),
            Format::Json => json_line(&time, record),
        };
        // Rocket names the request in some lines of its own ("No matching
        // routes for GET /x?token=…"): a query never reaches the log.
        let line = if is_ours(record.target()) {
            line
        } else {
            without_queries(&line)
        };
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

fn text_line(time: &str, record: &Record<'_>) -> String {
    struct Pairs(String);
    impl<'kvs> VisitSource<'kvs> for Pairs {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
            let value = clean(&value.to_string()).into_owned();
            // Quoted where a space would make the value two.
            if value.contains(' ') || value.is_empty() {
                self.0.push_str(&format!(" {key}={value:?}"));
            } else {
                self.0.push_str(&format!(" {key}={value}"));
            }
            Ok(())
        }
    }
    let mut pairs = Pairs(format!(
        "{time} {} {}",
        record.level(),
        clean(record.args().to_string().trim())
    ));
    let _ = record.key_values().visit(&mut pairs);
    pairs.0
}

fn json_line(time: &str, record: &Record<'_>) -> String {
    struct Fields(serde_json::Map<String, serde_json::Value>);
    impl<'kvs> VisitSource<'kvs> for Fields {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
            // Each field keeps its type: `"secure":false`, `"port":8080`.
            let value = if let Some(b) = value.to_bool() {
                b.into()
            } else if let Some(n) = value.to_u64() {
                n.into()
            } else if let Some(f) = value.to_f64() {
                f.into()
            } else {
                clean(&value.to_string()).into_owned().into()
            };
            self.0.insert(key.to_string(), value);
            Ok(())
        }
    }
    let mut fields = Fields(serde_json::Map::new());
    fields.0.insert("time".into(), time.into());
    fields.0.insert(
        "level".into(),
        record.level().as_str().to_lowercase().into(),
    );
    fields.0.insert(
        "message".into(),
        clean(record.args().to_string().trim()).into_owned().into(),
    );
    let _ = record.key_values().visit(&mut fields);
    serde_json::Value::Object(fields.0).to_string()
}

/// The most characters of one message or value a line carries.
const LONGEST_TEXT: usize = 2000;

/// `text` safe for a log line, whatever a client put in it (Rocket quotes
/// headers it cannot read): control characters, C1 controls such as
/// U+009B (a terminal's escape) and the line and paragraph separators
/// written as `\u009b`, and at most [`LONGEST_TEXT`] characters, the cut
/// marked with `…`.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if text.len() <= LONGEST_TEXT && !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(4 * LONGEST_TEXT));
    for (count, c) in text.chars().enumerate() {
        if count == LONGEST_TEXT {
            out.push('…');
            break;
        }
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `line` with every `?query` cut, up to the next space or quote (a final
/// `.` kept): queries carry what a person typed, or a token.
fn without_queries(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut skipping = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if skipping {
            let ends = c == ' '
                || c == '"'
                || (c == '.' && chars.peek().is_none_or(|n| *n == ' ' || *n == '"'));
            if !ends {
                continue;
            }
            skipping = false;
        } else if c == '?' {
            skipping = true;
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{clean, without_queries, LONGEST_TEXT};

    #[test]
    fn what_a_client_sends_is_escaped_and_cut() {
        assert_eq!(clean("GET /"), "GET /");
        assert_eq!(
            clean("a\u{9b}31mb\u{2028}c\nd\u{1b}"),
            "a\\u009b31mb\\u2028c\\u000ad\\u001b"
        );
        let long = "x".repeat(100_000);
        let cut = clean(&long);
        assert_eq!(cut.chars().count(), LONGEST_TEXT + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn queries_are_cut_from_rockets_lines() {
        assert_eq!(
            without_queries("No matching routes for GET /nope?token=SECRET123."),
            "No matching routes for GET /nope."
        );
        assert_eq!(
            without_queries(r#"{"message":"GET /a?b=c d"}"#),
            r#"{"message":"GET /a d"}"#
        );
        assert_eq!(without_queries("nothing to cut"), "nothing to cut");
    }
}
