use super::*;
use serde_json::json;

fn mapping(t: Value) -> Mapping {
    match t {
        Value::Object(m) => Mapping::from_config(&m).expect("valid mapping"),
        _ => panic!("not a table"),
    }
}

#[test]
fn paths_reach_into_objects_and_arrays() {
    let doc = json!({"data": {"Account": {"Name": "Ana", "odd.key": 1},
                     "Contacts": [{"Email": "a@x"}, {"Email": "b@x"}, {"Phone": "1"}]}});
    let get = |p: &str| p.parse::<JsonPath>().expect("path").get(&doc);
    assert_eq!(get("data.Account.Name"), Some(json!("Ana")));
    assert_eq!(get("$.data.Contacts[1].Email"), Some(json!("b@x")));
    assert_eq!(get("data.Contacts[*].Email"), Some(json!(["a@x", "b@x"])));
    assert_eq!(get("data.Account['odd.key']"), Some(json!(1)));
    assert_eq!(get("data.Contacts[9].Email"), None);
    assert_eq!(get("data.Account.Name.First"), None);
    assert_eq!(get(""), Some(doc.clone()));
    for bad in ["a..b", "a[", "a[x]", "a.", "a[0]b"] {
        assert!(bad.parse::<JsonPath>().is_err(), "{bad} should be refused");
    }
}

#[test]
fn conversions() {
    use Conversion::*;
    assert_eq!(convert(&json!(42), String), Ok(json!("42")));
    assert_eq!(convert(&json!(" 42 "), Integer), Ok(json!(42)));
    assert_eq!(convert(&json!("4.5"), Number), Ok(json!(4.5)));
    assert_eq!(convert(&json!("Yes"), Bool), Ok(json!(true)));
    assert_eq!(convert(&json!(0), Bool), Ok(json!(false)));
    assert!(convert(&json!("maybe"), Bool).is_err());
    assert_eq!(
        convert(&json!("2019-03-01T23:30:00-05:00"), Date),
        Ok(json!("2019-03-01"))
    );
    assert_eq!(
        convert(&json!("2019-03-01T23:30:00-05:00"), DateTime),
        Ok(json!("2019-03-02T04:30:00Z"))
    );
    assert_eq!(convert(&json!(1551398400), Date), Ok(json!("2019-03-01")));
    assert_eq!(
        convert(&json!(1551398400000i64), Date),
        Ok(json!("2019-03-01"))
    );
    assert_eq!(convert(&json!("2019-03-01"), Date), Ok(json!("2019-03-01")));
    assert!(convert(&json!("01/03/2019"), Date).is_err());
    assert_eq!(convert(&json!("1234.5"), Money), Ok(json!("1234.50")));
    assert_eq!(convert(&json!(0.1), Money), Ok(json!("0.10")));
    assert_eq!(convert(&json!("19.999"), Money), Ok(json!("20.00")));
    assert_eq!(convert(&json!("-0.005"), Money), Ok(json!("-0.01")));
    assert!(convert(&json!("12 EUR"), Money).is_err());
    assert!(convert(&json!({"a": 1}), String).is_err());
}

/// Found by fuzzing (fuzz/fuzz_targets/mapping_path.rs): a unix time
/// past the year 9999 (999919999991999.9, read as milliseconds: a
/// microsecond timestamp is that large) became "+33656-03-15T03:33:12Z",
/// which is not RFC 3339, and the date "+33656-03-15".
#[test]
fn dates_outside_four_digit_years_are_refused() {
    use Conversion::*;
    let far = json!(999_919_999_991_999.9_f64);
    assert!(convert(&far, DateTime).is_err());
    assert!(convert(&far, Date).is_err());
    let micros = json!(1_551_398_400_000_000i64);
    assert!(convert(&micros, DateTime).is_err());
    // Year 0000 at +01:00 is year -1 in UTC.
    let zero = json!("0000-01-01T00:00:00+01:00");
    assert!(convert(&zero, DateTime).is_err());
    assert_eq!(convert(&zero, Date), Ok(json!("0000-01-01")));
    let last = json!(253_402_300_799_000i64);
    assert_eq!(convert(&last, DateTime), Ok(json!("9999-12-31T23:59:59Z")));
    assert_eq!(convert(&last, Date), Ok(json!("9999-12-31")));
    assert!(convert(&json!(253_402_300_800_000i64), DateTime).is_err());
    assert!(convert(&json!(-62_167_219_200_001i64), DateTime).is_err());
}

#[test]
fn a_mapping_takes_defaults_and_names_its_failures() {
    let m = mapping(json!({
        "name": "Account.Name",
        "tier": {"path": "Account.Tier", "type": "string", "default": "standard"},
        "balance": {"path": "Account.Balance", "type": "money"},
        "vip": {"path": "Account.Vip", "type": "bool"},
    }));
    let ok = m
        .apply(
            "crm",
            &json!({"Account": {"Name": "Ana", "Balance": 10, "Vip": "no"}}),
        )
        .expect("maps");
    assert_eq!(
        Value::Object(ok),
        json!({"name": "Ana", "tier": "standard", "balance": "10.00", "vip": false})
    );
    let err = m
        .apply(
            "crm",
            &json!({"Account": {"Name": "Ana", "Vip": "perhaps"}}),
        )
        .expect_err("bad bool");
    assert_eq!(err.source_name, "crm");
    assert_eq!(err.field, "vip");
    assert_eq!(err.path, "Account.Vip");
    assert_eq!(err.value, "\"perhaps\"");
    let text = err.to_string();
    assert!(text.contains("crm") && text.contains("vip") && text.contains("Account.Vip"));
    assert!(!err.redacted().contains("perhaps"));
}

#[test]
fn required_fields_and_bad_configs() {
    let m = mapping(json!({"id": {"path": "Id", "required": true}}));
    let e = m.apply("erp", &json!({"Other": 1})).expect_err("missing");
    assert_eq!(e.field, "id");
    let bad = |t: Value| match t {
        Value::Object(m) => Mapping::from_config(&m).expect_err("refused"),
        _ => panic!(),
    };
    assert!(bad(json!({"x": {"path": "a", "type": "float"}})).contains("fields.x.type"));
    assert!(bad(json!({"x": {"paht": "a"}})).contains("unknown key"));
    assert!(bad(json!({"bad name": "a"})).contains("fields.bad name"));
    assert!(bad(json!({"x": 3})).contains("fields.x"));
}

#[test]
fn no_rules_takes_the_record_as_it_is() {
    let m = Mapping::default();
    let r = m
        .apply("db", &json!({"name": "Ana", "n": 1}))
        .expect("object");
    assert_eq!(Value::Object(r), json!({"name": "Ana", "n": 1}));
    assert!(m.apply("db", &json!([1])).is_err());
}
