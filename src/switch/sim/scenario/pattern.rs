//! Destination-number matchers of a scenario rule: a prefix, or a dialplan-
//! style pattern (X, Z, N, ?, *) matched against the whole number.

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Matcher {
    Any,
    Prefix(String),
    Pattern(Vec<Tok>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Tok {
    Lit(char),
    Digit,
    OneToNine,
    TwoToNine,
    AnyOne,
    AnyRun,
}

pub(super) fn parse_pattern(p: &str) -> Vec<Tok> {
    p.chars()
        .map(|c| match c {
            'X' | 'x' => Tok::Digit,
            'Z' | 'z' => Tok::OneToNine,
            'N' | 'n' => Tok::TwoToNine,
            '?' => Tok::AnyOne,
            '*' => Tok::AnyRun,
            c => Tok::Lit(c),
        })
        .collect()
}

fn tok_matches(t: Tok, c: char) -> bool {
    match t {
        Tok::Lit(l) => l == c,
        Tok::Digit => c.is_ascii_digit(),
        Tok::OneToNine => ('1'..='9').contains(&c),
        Tok::TwoToNine => ('2'..='9').contains(&c),
        Tok::AnyOne => true,
        Tok::AnyRun => true,
    }
}

/// Glob matching with `*` backtracking to the last star (linear enough for
/// the short patterns of a scenario).
fn pattern_matches(pat: &[Tok], s: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && pat[p] == Tok::AnyRun {
            star = Some((p, i));
            p += 1;
        } else if p < pat.len() && tok_matches(pat[p], s[i]) {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|t| *t == Tok::AnyRun)
}

impl Matcher {
    pub(super) fn matches(&self, number: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Prefix(p) => number.starts_with(p.as_str()),
            Matcher::Pattern(t) => pattern_matches(t, number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = parse_pattern("*1XXX");
        assert!(pattern_matches(&p, "1001"));
        assert!(pattern_matches(&p, "+15551999"));
        assert!(!pattern_matches(&p, "15552001"));
        assert!(!pattern_matches(&p, "100"));
        assert!(pattern_matches(&parse_pattern("NXX?"), "212a"));
        assert!(!pattern_matches(&parse_pattern("NXX"), "112"));
        assert!(pattern_matches(&parse_pattern("*"), ""));
        assert!(pattern_matches(&parse_pattern("1*5*9"), "1234567789"));
    }
}
