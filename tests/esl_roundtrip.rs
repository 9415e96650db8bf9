//! Values that must survive a trip through their wire form unchanged.

use bytes::Bytes;
use dialpop::switch::esl::EslEvent;
use dialpop::switch::esl::command::{Originate, OriginateTarget};
use dialpop::switch::esl::event::parse_event_plain;
use dialpop::switch::headers::Headers;
use proptest::prelude::*;

fn var_value() -> impl Strategy<Value = String> {
    // Anything printable except what the {...} syntax reserves; spaces are
    // allowed (they are quoted).
    "[A-Za-z0-9 _.+@:/=;#*-]{0,24}".prop_map(|s| s.trim().to_string())
}

fn originate() -> impl Strategy<Value = Originate> {
    (
        prop::collection::vec(("[a-z_][a-z0-9_]{0,15}", var_value()), 0..6),
        "[a-z]{3,8}/[a-z0-9]{1,8}/\\+?[0-9]{3,15}",
        prop_oneof![
            ("[a-z_]{1,10}", "[a-z0-9/@. ]{0,20}")
                .prop_map(|(name, arg)| OriginateTarget::App { name, arg }),
            (
                "[0-9a-z]{1,8}",
                prop::option::of(("[A-Z]{2,4}", prop::option::of("[a-z]{1,8}")))
            )
                .prop_map(|(exten, rest)| match rest {
                    None => OriginateTarget::Extension {
                        exten,
                        dialplan: None,
                        context: None
                    },
                    Some((d, c)) => OriginateTarget::Extension {
                        exten,
                        dialplan: Some(d),
                        context: c
                    },
                }),
        ],
    )
        .prop_map(|(variables, dial_string, target)| Originate {
            variables,
            dial_string,
            target,
        })
}

proptest! {
    #[test]
    fn originate_display_round_trips(o in originate()) {
        prop_assume!(o.validate().is_ok());
        let text = o.to_command().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!text.contains('\n') && !text.contains('\r'));
        let back: Originate = text.parse().map_err(|e: dialpop::switch::esl::command::OriginateParseError| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, o);
    }

    #[test]
    fn bad_values_never_reach_the_wire(o in originate(), bad in prop::sample::select(vec![",", "}", "{", "'", "\r", "\n", "]"]), at in 0usize..8) {
        let mut o = o;
        let mut v = "x".repeat(at);
        v.push_str(bad);
        o.variables.push(("dialpop_customer".into(), v));
        prop_assert!(o.to_command().is_err());
    }

    /// Any header values, including non-UTF-8 bytes, newlines, '%' and
    /// empty values, survive FreeSWITCH's serialization and our parser.
    #[test]
    fn event_plain_round_trips(
        headers in prop::collection::vec(("[A-Za-z][A-Za-z0-9_-]{0,20}", prop::collection::vec(any::<u8>(), 0..40)), 1..30),
        body in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
    ) {
        let headers: Vec<(String, Vec<u8>)> = headers.into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("content-length")).collect();
        let ev = EslEvent { headers: Headers::from_pairs(headers.clone()), body: body.map(Bytes::from) };
        let parsed = parse_event_plain(Bytes::from(ev.to_plain())).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: Vec<(Vec<u8>, Vec<u8>)> = parsed.headers.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = headers.into_iter().map(|(k, v)| {
            // An empty value is sent as _undef_ and read back as empty; a
            // value that is literally "_undef_" cannot be told apart.
            let v = if v == b"_undef_" { Vec::new() } else { v };
            (k.into_bytes(), v)
        }).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(parsed.body, ev.body);
    }
}
