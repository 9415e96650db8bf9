//! Who may frame the pages: the agent page only by dialpop's own admin page
//! (its template preview; `tests/admin_browser.rs` draws it framed in
//! Chromium), the admin page by nobody. As headers: browsers ignore
//! frame-ancestors in a page's meta tag.

mod common;

use common::lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_say_who_may_frame_them() {
    let lab = lab("page-headers", 0, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let client = reqwest::Client::new();
    for (page, ancestors, frame_options) in [
        ("/agent", "frame-ancestors 'self'", "SAMEORIGIN"),
        ("/admin", "frame-ancestors 'none'", "DENY"),
    ] {
        let r = client
            .get(format!("http://{}{page}", daemon.addr))
            .send()
            .await
            .expect("the page answers");
        assert_eq!(r.status().as_u16(), 200, "{page}");
        let h = r.headers();
        let get = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(get("content-security-policy"), ancestors, "{page}");
        assert_eq!(get("x-frame-options"), frame_options, "{page}");
        assert_eq!(get("x-content-type-options"), "nosniff", "{page}");
        // The strict policy of the page itself stays in its meta tag.
        let body = r.text().await.expect("body");
        assert!(body.contains("default-src 'none'"), "{page}");
    }
    daemon.stop().await;
}
