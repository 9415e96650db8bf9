use super::*;

#[test]
fn the_default_sources_parse() {
    let d = default_sources();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].role, SourceRole::Record);
    assert_eq!(d[1].role, SourceRole::History);
    assert_eq!(d[1].page_size, 5);
}
