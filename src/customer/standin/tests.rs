use super::handler::{decode_cursor, encode_cursor};
use super::wire::form_pairs;
use super::*;

#[test]
fn cursors_round_trip() {
    assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
    assert_eq!(decode_cursor("zz"), None);
}

#[test]
fn forms_decode_plus_and_percent() {
    assert_eq!(
        form_pairs("a=x+y&b=%26%3D&c"),
        vec![
            ("a".into(), "x y".into()),
            ("b".into(), "&=".into()),
            ("c".into(), String::new())
        ]
    );
}

#[test]
fn orders_are_deterministic() {
    let c = StandinCustomer {
        id: "C-1".into(),
        orders: 3,
        ..Default::default()
    };
    assert_eq!(customer_order(&c, 1), customer_order(&c, 1));
    assert_eq!(customer_order(&c, 0)["OrderId"], "O-0000003");
    assert_eq!(customer_order(&c, 0)["Placed"], "2025-06-30T12:00:00Z");
}
