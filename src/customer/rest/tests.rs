use super::oauth::renewal_margin;
use super::template::{Piece, pieces};
use super::*;

#[test]
fn templates_split_at_placeholders_only() {
    assert_eq!(
        pieces("/a/{customer_id}?x={var.tag}&y={"),
        vec![
            Piece::Text("/a/"),
            Piece::Param("customer_id"),
            Piece::Text("?x="),
            Piece::Param("var.tag"),
            Piece::Text("&y={"),
        ]
    );
    assert_eq!(pieces("{not a param}"), vec![Piece::Text("{not a param}")]);
    assert_eq!(pieces("{a{b}"), vec![Piece::Text("{a"), Piece::Param("b")]);
    assert_eq!(template_params("{}{x}"), vec!["x"]);
}

#[test]
fn url_values_are_one_component() {
    let u = fill_url_template("http://h/c/{customer_id}?p={phone}&c={cursor}", |n| {
        (n != "cursor").then_some("a/b?c=d#e f%")
    });
    assert_eq!(
        u,
        "http://h/c/a%2Fb%3Fc%3Dd%23e%20f%25?p=a%2Fb%3Fc%3Dd%23e%20f%25&c="
    );
}

#[test]
fn dot_and_empty_segments_are_recognised() {
    let t = "http://h/c/{customer_id}/orders?x={cursor}";
    let fill = |v: &'static str| fill_url_template(t, |n| (n == "customer_id").then_some(v));
    assert!(fills_a_dot_or_empty_segment(t, &fill("..")));
    assert!(fills_a_dot_or_empty_segment(t, &fill(".")));
    assert!(fills_a_dot_or_empty_segment(t, &fill("")));
    assert!(!fills_a_dot_or_empty_segment(t, &fill("...")));
    assert!(!fills_a_dot_or_empty_segment(t, &fill("../x")));
    assert!(!fills_a_dot_or_empty_segment(
        "http://h/c/id-{customer_id}",
        "http://h/c/id-"
    ));
}

#[test]
fn json_bodies_take_values_as_strings_and_pages_as_numbers() {
    let t: Value = serde_json::json!({
        "phone": "{phone}",
        "cursor": "{cursor}",
        "page": {"limit": "{limit}", "offset": "{offset}"},
        "note": "id={customer_id}, {not a param}",
        "n": [1, true, null, "{email}"]
    });
    let v = fill_json_template(&t, &mut |n: &str| match n {
        "phone" => Some("+1\"}\n".to_string()),
        "limit" => Some("20".into()),
        "offset" => Some("40".into()),
        "customer_id" => Some("C\"1".into()),
        "email" => Some("a@b.c".into()),
        _ => None,
    });
    assert_eq!(
        v,
        serde_json::json!({
            "phone": "+1\"}\n",
            "cursor": null,
            "page": {"limit": 20, "offset": 40},
            "note": "id=C\"1, {not a param}",
            "n": [1, true, null, "a@b.c"]
        })
    );
}

#[test]
fn descriptions_hide_userinfo_and_keys() {
    assert_eq!(
        describe_template(
            "https://u:pw@crm.example.com/api/{customer_id}?api_key=abc&x={phone}&token={var.t}#f"
        ),
        "https://crm.example.com/api/{customer_id}?api_key=***&x={phone}&token={var.t}#f"
    );
    assert_eq!(describe_template("http://crm:8080/a"), "http://crm:8080/a");
}

#[test]
fn tokens_are_renewed_ahead_of_expiry() {
    assert_eq!(
        renewal_margin(Duration::from_secs(3600)),
        Duration::from_secs(360)
    );
    assert_eq!(
        renewal_margin(Duration::from_secs(120)),
        Duration::from_secs(30)
    );
    assert_eq!(
        renewal_margin(Duration::from_secs(2)),
        Duration::from_secs(1)
    );
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn form_bodies_escape_everything_reserved() {
    assert_eq!(
        form_encode(&[("client_id", "a b"), ("client_secret", "p&q=r+/")]),
        "client_id=a%20b&client_secret=p%26q%3Dr%2B%2F"
    );
}
