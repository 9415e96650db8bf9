use super::redis_level::PREFIX;
use super::*;

#[test]
fn identities_match_on_any_shared_key() {
    let stored = Identity {
        customer_id: Some("C-1".into()),
        phone: Some("+14155550123".into()),
        email: None,
    };
    assert!(stored.shares_a_key_with(&Identity::readings_of("C-1", "US")));
    assert!(stored.shares_a_key_with(&Identity::readings_of("(415) 555-0123", "US")));
    assert!(!stored.shares_a_key_with(&Identity::readings_of("C-2", "US")));
    assert!(!stored.shares_a_key_with(&Identity::default()));
}

#[test]
fn redis_keys_do_not_carry_the_customer_key() {
    let k = CacheKey {
        source: "crm".into(),
        key: "+14155550123".into(),
        page: PageRequest::default(),
    };
    let sealer = Sealer::from_hex(&"ab".repeat(32)).expect("key");
    let rk = k.redis_key(&sealer);
    assert!(!rk.contains("4155550123"));
    assert!(rk.starts_with(PREFIX));
    let other = CacheKey {
        page: PageRequest {
            limit: 10,
            ..Default::default()
        },
        ..k.clone()
    };
    assert_ne!(rk, other.redis_key(&sealer));
}
