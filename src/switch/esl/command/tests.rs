use super::*;

fn sample() -> Originate {
    Originate {
        variables: vec![
            (
                "origination_uuid".into(),
                "6f2c1a52-0000-4000-8000-000000000001".into(),
            ),
            ("origination_caller_id_name".into(), "Acme Sales".into()),
            ("originate_timeout".into(), "30".into()),
            ("dialpop_task_id".into(), "42".into()),
        ],
        dial_string: "sofia/gateway/gw1/+15551230001".into(),
        target: OriginateTarget::App {
            name: "park".into(),
            arg: String::new(),
        },
    }
}

#[test]
fn originate_round_trips() {
    let o = sample();
    let text = o.to_command().expect("valid");
    assert_eq!(
        text,
        "originate {origination_uuid=6f2c1a52-0000-4000-8000-000000000001,origination_caller_id_name='Acme Sales',originate_timeout=30,dialpop_task_id=42}sofia/gateway/gw1/+15551230001 &park()"
    );
    assert_eq!(text.parse::<Originate>(), Ok(o));
    let ext = Originate {
        target: OriginateTarget::Extension {
            exten: "connect".into(),
            dialplan: Some("XML".into()),
            context: Some("agents".into()),
        },
        ..sample()
    };
    assert_eq!(ext.to_string().parse::<Originate>(), Ok(ext));
    // The real capture's command line, as FreeSWITCH echoes it back.
    let real: Originate = "{origination_caller_id_number=5550100,dialer_call_id=call-answered-1001}loopback/1001/customers &park()"
        .parse()
        .expect("parses");
    assert_eq!(real.variable("dialer_call_id"), Some("call-answered-1001"));
    assert_eq!(real.dial_string, "loopback/1001/customers");
}

#[test]
fn originate_refuses_what_would_break_the_syntax() {
    for bad in ["a,b", "x}y", "{", "it's", "line\r\nexit"] {
        let mut o = sample();
        o.variables.push(("dialpop_customer".into(), bad.into()));
        assert!(o.to_command().is_err(), "accepted {bad:?}");
    }
    let mut o = sample();
    o.dial_string = "sofia/gateway/gw1/123 &park()".into();
    assert!(o.to_command().is_err());
    let mut o = sample();
    o.variables.push(("bad name".into(), "v".into()));
    assert!(o.to_command().is_err());
}

#[test]
fn commands_refuse_line_breaks_and_hide_passwords() {
    let c = EslCommand::Api {
        command: "status\n\nexit".into(),
    };
    assert!(c.to_wire().is_err());
    let a = EslCommand::Auth {
        password: "ClueCon".into(),
    };
    assert_eq!(a.to_wire().ok().as_deref(), Some("auth ClueCon\n\n"));
    assert!(!a.to_string().contains("ClueCon"));
    let e = EslCommand::Events {
        format: EventFormat::Plain,
        names: vec!["CHANNEL_ANSWER".into(), "BAD NAME".into()],
    };
    assert!(e.to_wire().is_err());
}

#[test]
fn server_reads_commands_with_headers_and_body() {
    let buf = b"\r\nbgapi originate x &park()\r\nJob-UUID: abc\r\n\r\nsendmsg\nContent-Length: 3\n\nabcauth";
    let Ok(Some((n, c))) = scan_client_command(buf) else {
        panic!("no command")
    };
    assert_eq!(c.verb_and_args(), ("bgapi", "originate x &park()"));
    assert_eq!(c.headers.get("job-uuid"), Some(&b"abc"[..]));
    let Ok(Some((m, c2))) = scan_client_command(&buf[n..]) else {
        panic!("no second command")
    };
    assert_eq!(c2.body.as_deref(), Some(&b"abc"[..]));
    assert!(matches!(scan_client_command(&buf[n + m..]), Ok(None)));
}
