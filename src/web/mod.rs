//! The pages dialpop serves to browsers, embedded in the binary so that a
//! deployment is one file and the page always matches the daemon's protocol.

/// The agent's companion page, served at `GET /agent`.
///
/// One self-contained HTML file (CSS and JS inline, nothing loaded from the
/// network). It signs in over `/ws/agent` by sending
/// `{"type":"auth","token":…}` as the first frame, renders `hello`, `state`,
/// `pop` and `call` messages, and acknowledges every pop with
/// `{"type":"ack","pop_id":…}` right after rendering it.
pub const AGENT_PAGE: &str = include_str!("agent.html");

mod catalogues {
    // Written by build.rs: every file of src/web/i18n/, by language tag.
    include!(concat!(env!("OUT_DIR"), "/i18n.rs"));
}
pub use catalogues::CATALOGUES;

/// The agent page as served: its catalogues put in as a JSON data block
/// (data, not script: the page's CSP hash covers only its one script).
pub fn agent_page() -> &'static str {
    static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut all = serde_json::Map::new();
        for (tag, text) in CATALOGUES {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => {
                    all.insert(tag.to_string(), v);
                }
                Err(e) => {
                    tracing::error!(language = tag, error = %e, "page catalogue unreadable; left out")
                }
            }
        }
        let json = serde_json::Value::Object(all)
            .to_string()
            .replace('<', "\\u003c");
        AGENT_PAGE.replace("__CATALOGUES__", &json)
    });
    &PAGE
}

#[cfg(test)]
mod tests {
    use super::{AGENT_PAGE, CATALOGUES, agent_page};
    use std::collections::BTreeSet;

    fn placeholders(s: &str) -> BTreeSet<String> {
        s.split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_string()))
            .collect()
    }

    /// Every language has every text English has, with the same
    /// placeholders, and nothing English lacks.
    #[test]
    fn catalogues_are_complete() {
        let read = |tag: &str, text: &str| -> serde_json::Map<String, serde_json::Value> {
            match serde_json::from_str(text) {
                Ok(serde_json::Value::Object(m)) => m,
                other => panic!("catalogue {tag} is not an object of texts: {other:?}"),
            }
        };
        let en = CATALOGUES
            .iter()
            .find(|(t, _)| *t == "en")
            .map(|(t, s)| read(t, s))
            .expect("an English catalogue");
        assert!(
            CATALOGUES.iter().any(|(t, _)| *t == "zh-CN"),
            "a Simplified Chinese catalogue"
        );
        for (tag, text) in CATALOGUES {
            let cat = read(tag, text);
            for (key, v) in &en {
                let theirs = cat.get(key).and_then(|v| v.as_str());
                let ours = v.as_str().unwrap_or_default();
                assert!(theirs.is_some(), "{tag}: no text for {key}");
                assert_eq!(
                    placeholders(theirs.unwrap_or_default()),
                    placeholders(ours),
                    "{tag}.{key}: placeholders"
                );
            }
            for key in cat.keys() {
                assert!(
                    en.contains_key(key),
                    "{tag}: {key} is not a text the page uses"
                );
            }
        }
        // And the page uses each text it names.
        for key in en.keys() {
            let used = AGENT_PAGE.contains(&format!("'{key}'"))
                || AGENT_PAGE.contains(&format!("\"{key}\""))
                || AGENT_PAGE.contains(&format!("t('{key}"));
            assert!(
                used || key == "language" || key.starts_with("state_"),
                "en: {key} is never used by the page"
            );
        }
        let page = agent_page();
        assert!(!page.contains("__CATALOGUES__"));
        assert!(page.contains("简体中文"));
    }
    use base64::Engine;
    use sha2::{Digest, Sha256};

    /// The page's Content-Security-Policy allows its one inline script by
    /// hash, so an inline handler smuggled in through data (an
    /// `<img onerror=…>`) could not run even if a later edit rendered HTML.
    /// Any change to the script changes the hash; this test says the new one.
    #[test]
    fn csp_allows_exactly_the_inline_script() {
        let open = "<script>";
        let start = AGENT_PAGE.find(open).expect("the page has a script") + open.len();
        let len = AGENT_PAGE[start..]
            .find("</script>")
            .expect("the script is closed");
        assert_eq!(
            AGENT_PAGE.matches(open).count(),
            1,
            "the page should keep a single inline script"
        );
        let digest = Sha256::digest(&AGENT_PAGE.as_bytes()[start..start + len]);
        let source = format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert!(
            AGENT_PAGE.contains(&format!("script-src {source};")),
            "the script changed: set `script-src {source};` in the CSP of src/web/agent.html"
        );
        assert!(!AGENT_PAGE.contains("script-src 'unsafe-inline'"));
    }

    /// The page works on a machine with no internet: nothing is loaded from
    /// anywhere but the page itself and the daemon's WebSocket.
    #[test]
    fn page_loads_nothing_from_elsewhere() {
        for needle in [" src=", "url(", "@import", "<iframe", "<object", "<embed"] {
            assert!(
                !AGENT_PAGE.contains(needle),
                "the agent page must not load resources (`{needle}`)"
            );
        }
        let hrefs: Vec<_> = AGENT_PAGE.match_indices("href=").collect();
        assert_eq!(hrefs.len(), 1, "only the empty data: favicon may use href");
        assert!(AGENT_PAGE.contains(r#"<link rel="icon" href="data:,">"#));
        assert!(
            !AGENT_PAGE.contains("innerHTML"),
            "server data goes in with textContent"
        );
        assert!(
            !AGENT_PAGE.contains("console."),
            "the page logs nothing (the token least of all)"
        );
    }
}
