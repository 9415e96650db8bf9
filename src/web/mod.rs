//! The pages dialpop serves to browsers, embedded in the binary so that a
//! deployment is one file and the pages always match the daemon's protocol.

/// The agent's companion page, served at `GET /agent`.
///
/// One self-contained HTML file (CSS and JS inline, nothing loaded from the
/// network). It signs in over `/ws/agent` by sending
/// `{"type":"auth","token":…}` as the first frame, renders `hello`, `state`,
/// `pop` and `call` messages, and acknowledges every pop with
/// `{"type":"ack","pop_id":…}` right after rendering it. Opened in a frame
/// as `/agent#preview`, it draws the pops its parent page sends instead.
pub const AGENT_PAGE: &str = include_str!("agent.html");

/// The administrator's page, served at `GET /admin`: template editor with
/// the agent page as its preview, data sources, the pop log, campaigns and
/// agents, all through the API with an admin token.
pub const ADMIN_PAGE: &str = include_str!("admin.html");

mod catalogues {
    // Written by build.rs: every file of src/web/i18n/, by language tag.
    include!(concat!(env!("OUT_DIR"), "/i18n.rs"));
}
pub use catalogues::CATALOGUES;

/// Every catalogue, as the JSON data block the pages read (data, not
/// script; `<` escaped, so that no text can close the block).
fn catalogues_json() -> String {
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
    serde_json::Value::Object(all)
        .to_string()
        .replace('<', "\\u003c")
}

fn script_of(page: &str) -> &str {
    let open = "<script>";
    page.find(open)
        .map(|i| i + open.len())
        .and_then(|start| {
            page[start..]
                .find("</script>")
                .map(|len| &page[start..start + len])
        })
        .unwrap_or_default()
}

fn script_hash(script: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()))
    )
}

/// The agent page as served: its catalogues put in. Its CSP names its
/// script's hash in the file itself (a test keeps the two together).
pub fn agent_page() -> &'static str {
    static PAGE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| AGENT_PAGE.replace("__CATALOGUES__", &catalogues_json()));
    &PAGE
}

/// The admin page as served: catalogues put in, and its CSP allowing its
/// one script by that script's hash, worked out here.
pub fn admin_page() -> &'static str {
    static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let page = ADMIN_PAGE.replace("__CATALOGUES__", &catalogues_json());
        let hash = script_hash(script_of(&page));
        page.replace("__SCRIPT_HASH__", &hash)
    });
    &PAGE
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(s: &str) -> BTreeSet<String> {
        s.split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_string()))
            .collect()
    }

    fn uses(page: &str, key: &str) -> bool {
        page.contains(&format!("'{key}'"))
            || page.contains(&format!("\"{key}\""))
            || page.contains(&format!("t('{key}"))
    }

    /// Every language has every text English has, with the same
    /// placeholders, nothing English lacks, and each text is used.
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
                assert!(theirs.is_some(), "{tag}: no text for {key}");
                assert_eq!(
                    placeholders(theirs.unwrap_or_default()),
                    placeholders(v.as_str().unwrap_or_default()),
                    "{tag}.{key}: placeholders"
                );
            }
            for key in cat.keys() {
                assert!(
                    en.contains_key(key),
                    "{tag}: {key} is not a text a page uses"
                );
            }
        }
        // The admin page names a test call's steps and verdicts by joining
        // a prefix to the server's name for them: every one has a text.
        use crate::dialer::test_report::{Step, Verdict};
        let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let joined: Vec<String> = Step::ALL
            .iter()
            .map(|s| format!("step_{}", name(serde_json::json!(s))))
            .chain(
                Verdict::ALL
                    .iter()
                    .map(|v| format!("verdict_{}", name(serde_json::json!(v)))),
            )
            // The admin page's Pop health tab joins the alert's names too.
            .chain(
                crate::monitor::watch::Kind::ALL
                    .iter()
                    .map(|k| format!("alert_{}", k.alert())),
            )
            .chain(
                crate::monitor::watch::Transition::ALL
                    .iter()
                    .map(|t| format!("admin_alert_{}", name(serde_json::json!(t)))),
            )
            .collect();
        for key in &joined {
            assert!(en.contains_key(key), "en: no text for {key}");
        }
        for key in en.keys() {
            // state_* and admin_{start,…} are named by joining a prefix.
            let used = uses(AGENT_PAGE, key)
                || joined.contains(key)
                || uses(ADMIN_PAGE, key)
                || key == "language"
                || key.starts_with("state_")
                || ["admin_start", "admin_pause", "admin_resume", "admin_stop"]
                    .contains(&key.as_str());
            assert!(used, "en: {key} is never used by a page");
        }
        for page in [agent_page(), admin_page()] {
            assert!(!page.contains("__CATALOGUES__"));
            assert!(page.contains("简体中文"));
        }
    }

    /// The agent page's Content-Security-Policy allows its one inline
    /// script by hash, so an inline handler smuggled in through data (an
    /// `<img onerror=…>`) could not run even if a later edit rendered HTML.
    /// Any change to the script changes the hash; this test says the new one.
    #[test]
    fn csp_allows_exactly_the_inline_script() {
        assert_eq!(
            AGENT_PAGE.matches("<script>").count(),
            1,
            "the page should keep a single inline script"
        );
        let source = script_hash(script_of(AGENT_PAGE));
        assert!(
            AGENT_PAGE.contains(&format!("script-src {source};")),
            "the script changed: set `script-src {source};` in the CSP of src/web/agent.html"
        );
        // The admin page's is worked out when it is served.
        let admin = admin_page();
        assert_eq!(admin.matches("<script>").count(), 1);
        assert!(admin.contains(&format!("script-src {};", script_hash(script_of(admin)))));
        for page in [AGENT_PAGE, admin] {
            assert!(!page.contains("script-src 'unsafe-inline'"));
        }
    }

    /// The pages work on a machine with no internet: nothing is loaded from
    /// anywhere but the page itself and the daemon (the admin page frames
    /// the agent page for its preview, and nothing else).
    #[test]
    fn pages_load_nothing_from_elsewhere() {
        for needle in [" src=", "url(", "@import", "<iframe", "<object", "<embed"] {
            assert!(
                !AGENT_PAGE.contains(needle),
                "the agent page must not load resources (`{needle}`)"
            );
        }
        let srcs: Vec<_> = ADMIN_PAGE.match_indices(" src=").collect();
        assert_eq!(srcs.len(), 1, "the admin page loads only its preview frame");
        assert!(ADMIN_PAGE.contains(r#"src="/agent#preview""#));
        for (name, page) in [("agent", AGENT_PAGE), ("admin", ADMIN_PAGE)] {
            let hrefs: Vec<_> = page.match_indices("href=").collect();
            assert_eq!(
                hrefs.len(),
                1,
                "{name}: only the empty data: favicon may use href"
            );
            assert!(page.contains(r#"<link rel="icon" href="data:,">"#));
            assert!(
                !page.contains("innerHTML"),
                "{name}: server data goes in with textContent"
            );
            assert!(!page.contains("console."), "{name}: the page logs nothing");
        }
    }
}
