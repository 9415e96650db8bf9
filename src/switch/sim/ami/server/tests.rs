use super::login::hex_md5;
use super::*;
use tokio_util::codec::Decoder;

#[test]
fn lines_without_a_colon_are_kept_not_fatal() {
    let mut codec = Actions::default();
    let mut buf =
        BytesMut::from(&b"Action: Ping\r\ngarbage here\r\nActionID: 1\r\n\r\nnonsense\r\n\r\n"[..]);
    let p = codec.decode(&mut buf).expect("decodes").expect("a packet");
    assert_eq!(header(&p, "Action"), "Ping");
    assert_eq!(header(&p, "ActionID"), "1");
    let p = codec.decode(&mut buf).expect("decodes").expect("a packet");
    assert_eq!(header(&p, "Action"), "");
    assert_eq!(header(&p, "Malformed-Line"), "nonsense");
    assert!(buf.is_empty());
}

#[test]
fn responses_as_astman_writes_them() {
    assert_eq!(
        &response("Success", "login-1", None, Some("Authentication accepted"))[..],
        b"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n"
    );
    assert_eq!(
        &response("Error", "", None, Some("Permission denied"))[..],
        b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    );
    assert_eq!(
        &response("Success", "7", Some("start"), Some("Channels will follow"))[..],
        b"Response: Success\r\nActionID: 7\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
    );
    assert_eq!(
        list_complete("CoreShowChannelsComplete", "7", 2),
        "Event: CoreShowChannelsComplete\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
    );
    // RFC 1321's test vector.
    assert_eq!(hex_md5("abc"), "900150983cd24fb0d6963f7d28e17f72");
}
