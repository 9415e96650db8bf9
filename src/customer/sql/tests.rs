use super::*;

#[test]
fn postgres_placeholders_outside_literals_and_comments() {
    let pg = |s| placeholder_count(s, Dialect::Postgres).unwrap_or(usize::MAX);
    assert_eq!(pg("SELECT * FROM t WHERE id = $1"), 1);
    assert_eq!(pg("SELECT $2, $1"), 2);
    assert_eq!(pg("SELECT '$3' FROM t WHERE a = $1"), 1);
    assert_eq!(pg("SELECT \"a$3\", x$4 FROM t WHERE a = $1"), 1);
    assert_eq!(pg("SELECT 1 -- $9\n, $1"), 1);
    assert_eq!(pg("SELECT /* $9 /* $8 */ $7 */ $1"), 1);
    assert_eq!(pg("SELECT $$ $5 $$, $tag$ $6 $tag$, $1"), 1);
    assert_eq!(pg("SELECT E'it\\'s $4', $1"), 1);
    assert_eq!(pg("SELECT 'it''s $4', $2"), 2);
    assert_eq!(pg("SELECT a ? b FROM t"), 0);
}

#[test]
fn mysql_and_sqlite_question_marks() {
    let my = |s| placeholder_count(s, Dialect::MySql).unwrap_or(usize::MAX);
    let lite = |s| placeholder_count(s, Dialect::Sqlite);
    assert_eq!(my("SELECT * FROM t WHERE a = ? AND b = ?"), 2);
    assert_eq!(
        my("SELECT '?', \"?\", `?`, 'it\\'s ?' FROM t WHERE a = ?"),
        1
    );
    assert_eq!(my("SELECT 1 # ?\n, ? -- ?\n, ? /* ? */"), 2);
    // `--` without a space is no comment in MySQL.
    assert_eq!(my("SELECT 1--?"), 1);
    assert_eq!(lite("SELECT ?, ?"), Ok(2));
    assert_eq!(lite("SELECT ?3, ?1, $2"), Ok(3));
    assert_eq!(lite("SELECT [?], '?', 'it''s ?', ?"), Ok(1));
    assert_eq!(lite("SELECT '12:30' AS t, \"a:b\", ?"), Ok(1));
    assert!(lite("SELECT ?2, ?").is_err());
    assert!(lite("SELECT * FROM t WHERE a = :phone").is_err());
    assert!(lite("SELECT @a").is_err());
}

#[test]
fn described_urls_carry_no_password() {
    assert_eq!(
        redact_url("postgres://root:s3cret@127.0.0.1:5432/test"),
        "postgres://root@127.0.0.1:5432/test"
    );
    assert_eq!(
        redact_url("mysql://u:p@ss@db:3306/crm?password=x&ssl-mode=disabled"),
        "mysql://u@db:3306/crm?password=***&ssl-mode=disabled"
    );
    assert_eq!(
        redact_url("sqlite:/var/db.sqlite?mode=ro"),
        "sqlite:/var/db.sqlite?mode=ro"
    );
    assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
}
