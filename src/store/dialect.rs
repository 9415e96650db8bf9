//! Where SQLite and PostgreSQL speak differently. The queries are written
//! once, with `?` placeholders; PostgreSQL's are numbered on the way out.

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// The statement as this database wants it. The queries hold no `?`
    /// other than placeholders (values are always bound, never written in).
    pub fn sql(self, sql: impl Into<Cow<'static, str>>) -> sqlx::AssertSqlSafe<Cow<'static, str>> {
        let sql = sql.into();
        sqlx::AssertSqlSafe(match self {
            Dialect::Sqlite => sql,
            Dialect::Postgres => Cow::Owned(number_placeholders(&sql)),
        })
    }

    /// True when `column` (a `,a,b,` list) holds the bound `,tag,`.
    pub fn has_tag(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({column}, ?) > 0"),
            Dialect::Postgres => format!("strpos({column}, ?) > 0"),
        }
    }

    /// The claim walks the queue's order index. SQLite's planner, without
    /// statistics, prefers the due-time index for the range and then sorts
    /// every due task for each claim (1.5 ms at 10,000 tasks, 22 ms at
    /// 100,000): the walk is named for it.
    pub fn claim_index(self) -> &'static str {
        match self {
            Dialect::Sqlite => " INDEXED BY tasks_next",
            Dialect::Postgres => "",
        }
    }

    /// Locks the row a claim picks, skipping rows other claimers hold, so
    /// that several dialers can claim from one queue. SQLite has one writer
    /// at a time, which gives the same guarantee.
    pub fn claim_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            number_placeholders("UPDATE t SET a = ? WHERE b = ? AND c IN (?, ?)"),
            "UPDATE t SET a = $1 WHERE b = $2 AND c IN ($3, $4)"
        );
        assert_eq!(Dialect::Sqlite.sql("a = ?").0, "a = ?");
        assert_eq!(Dialect::Postgres.sql("a = ?").0, "a = $1");
        assert_eq!(Dialect::of_url("postgresql://x/y"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("mysql://x/y"), None);
    }
}
