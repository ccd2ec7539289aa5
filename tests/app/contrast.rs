//! Contrast, computed from the stylesheet's own colours in both schemes:
//! text at least 4.5:1 against its background, field borders and the focus
//! ring at least 3:1 (WCAG 2.2, 1.4.3 and 1.4.11).

use std::collections::BTreeMap;

const CSS: &str = include_str!("../../templates/static/app.css");

/// The `--name: #rrggbb` custom properties of the first `:root` block after
/// `after` in the stylesheet.
fn colours(after: &str) -> BTreeMap<String, String> {
    let start = CSS.find(after).expect("the scheme's block") + after.len();
    let block = &CSS[start..];
    let block = &block[block.find(":root").expect(":root")..];
    let block = &block[..block.find('}').unwrap()];
    block
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().strip_prefix("--")?.split_once(':')?;
            let value = value.trim().trim_end_matches(';');
            value
                .starts_with('#')
                .then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap() as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

fn ratio(a: &str, b: &str) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// Text on its background: 4.5:1.
const TEXT: [(&str, &str); 11] = [
    ("fg", "card"),
    ("fg", "bg"),
    ("muted", "card"),
    ("accent", "card"),
    ("accent-fg", "accent"),
    ("danger-fg", "danger"),
    ("error-fg", "error-bg"),
    ("ok-fg", "ok-bg"),
    ("fg", "bg"),
    ("error-fg", "card"),
    ("accent", "bg"),
];

/// Borders and outlines against what surrounds them: 3:1.
const NON_TEXT: [(&str, &str); 4] = [
    ("field-border", "card"),
    ("field-border", "bg"),
    ("focus", "card"),
    ("focus", "bg"),
];

#[test]
fn both_schemes_reach_the_contrast_they_need() {
    let light = colours("");
    let mut dark = light.clone();
    dark.extend(colours("prefers-color-scheme: dark"));
    assert!(light.len() >= 15, "{light:?}");
    for (scheme, colours) in [("light", &light), ("dark", &dark)] {
        for (pairs, needed) in [(&TEXT[..], 4.5), (&NON_TEXT[..], 3.0)] {
            for (fg, bg) in pairs {
                let measured = ratio(&colours[*fg], &colours[*bg]);
                println!("{scheme}: --{fg} on --{bg}: {measured:.2}:1");
                assert!(
                    measured >= needed,
                    "{scheme}: --{fg} {} on --{bg} {} is {measured:.2}:1, needs {needed}:1",
                    colours[*fg],
                    colours[*bg]
                );
            }
        }
    }
}

#[test]
fn the_measure_is_wcags() {
    assert!((ratio("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    assert!((ratio("#777777", "#ffffff") - 4.48).abs() < 0.01);
}
