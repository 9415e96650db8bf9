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

#[cfg(test)]
mod tests {
    use super::AGENT_PAGE;
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
