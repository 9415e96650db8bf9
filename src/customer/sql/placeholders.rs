//! Counting a query's placeholders per dialect, at load time, so that a
//! `params` list that does not match the query is refused before any fetch.

use super::Dialect;

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// How many parameters the query takes: the highest `$n` for PostgreSQL,
/// the number of `?` for MySQL, either for SQLite (`?`, or `?NNN`/`$NNN`);
/// placeholders inside string literals, quoted identifiers and comments do
/// not count. Err for placeholders sqlx cannot bind (SQLite's named ones)
/// or a mix it would bind in a surprising order.
pub(super) fn placeholder_count(sql: &str, d: Dialect) -> Result<usize, String> {
    let b = sql.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut highest = 0usize;
    let mut bare = 0usize;
    let at = |j: usize| b.get(j).copied().unwrap_or(0);
    while i < n {
        let c = b[i];
        match c {
            b'\'' => {
                let backslashes = match d {
                    Dialect::MySql => true,
                    // E'...' strings take backslash escapes.
                    Dialect::Postgres => {
                        i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_ident(b[i - 2]))
                    }
                    Dialect::Sqlite => false,
                };
                i = skip_quoted(b, i, b'\'', backslashes);
            }
            b'"' => i = skip_quoted(b, i, b'"', d == Dialect::MySql),
            b'`' if d != Dialect::Postgres => i = skip_quoted(b, i, b'`', false),
            b'[' if d == Dialect::Sqlite => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b']')
                    .map_or(n, |p| i + p + 1);
            }
            b'-' if at(i + 1) == b'-' && (d != Dialect::MySql || at(i + 2) <= b' ') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(n, |p| i + p + 1);
            }
            b'#' if d == Dialect::MySql => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(n, |p| i + p + 1);
            }
            b'/' if at(i + 1) == b'*' => i = skip_block_comment(b, i, d == Dialect::Postgres),
            b'$' if d == Dialect::Postgres => {
                if i > 0 && is_ident(b[i - 1]) {
                    i += 1;
                } else if at(i + 1).is_ascii_digit() {
                    let (num, next) = digits(b, i + 1);
                    highest = highest.max(num);
                    i = next;
                } else {
                    i = skip_dollar_quoted(b, i);
                }
            }
            b'?' | b'$' if d == Dialect::Sqlite && at(i + 1).is_ascii_digit() => {
                let (num, next) = digits(b, i + 1);
                highest = highest.max(num);
                i = next;
            }
            b'?' if d != Dialect::Postgres => {
                bare += 1;
                i += 1;
            }
            b':' | b'@' | b'$'
                if d == Dialect::Sqlite
                    && (at(i + 1).is_ascii_alphabetic() || at(i + 1) == b'_')
                    && (i == 0 || !is_ident(b[i - 1])) =>
            {
                return Err(
                    "named placeholders (:name, @name, $name) cannot be bound: use ? or ?NNN"
                        .into(),
                );
            }
            _ => i += 1,
        }
    }
    if bare > 0 && highest > 0 {
        return Err("mixes ? with numbered placeholders: use one or the other".into());
    }
    Ok(highest.max(bare))
}

fn digits(b: &[u8], mut i: usize) -> (usize, usize) {
    let mut num = 0usize;
    while i < b.len() && b[i].is_ascii_digit() {
        num = num
            .saturating_mul(10)
            .saturating_add(usize::from(b[i] - b'0'));
        i += 1;
    }
    (num, i)
}

/// The index just past the literal opened at `start`; a doubled quote is
/// an escaped quote.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslashes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if backslashes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn skip_block_comment(b: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            if depth == 0 || nested {
                depth += 1;
            }
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Past a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`)
/// opened at `start`, or one byte on if `$` does not open one.
fn skip_dollar_quoted(b: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < b.len() && b[j] != b'$' {
        if !(b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
            || (j == start + 1 && b[j].is_ascii_digit())
        {
            return start + 1;
        }
        j += 1;
    }
    if j >= b.len() {
        return start + 1;
    }
    let tag = &b[start..=j];
    let body = j + 1;
    b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag.len())
}
