//! One listener's subscription: the `event`, `nixevent`, `noevents` and
//! `filter` commands that shape it, and whether an event passes it.

use super::{ALL, CUSTOM, EVENT_NAMES, SimEvent, event_id};
use crate::switch::esl::EventFormat;
use regex::{Regex, RegexBuilder};
use std::collections::HashSet;

#[derive(Clone, Debug)]
struct Filter {
    header: String,
    value: String,
    /// Compiled when the value is `/regex/flags`.
    regex: Option<Regex>,
}

/// `switch_regex_perform`'s `/expression/flags` form (i: caseless, s: dotall).
fn compile_slashed(value: &str) -> Option<Regex> {
    let inner = value.strip_prefix('/')?;
    let (expr, flags) = inner.rsplit_once('/')?;
    RegexBuilder::new(expr)
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .build()
        .ok()
}

/// What one listener wants: mod_event_socket's `event_list`, `event_hash`,
/// `filters`, `format` and the LFLAG_EVENTS / LFLAG_MYEVENTS flags.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub events_on: bool,
    pub format: EventFormat,
    list: [bool; EVENT_NAMES.len()],
    custom: HashSet<String>,
    filters: Vec<Filter>,
    /// `myevents <uuid>`: only that channel's events.
    pub my_uuid: Option<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            events_on: false,
            format: EventFormat::Plain,
            list: [false; EVENT_NAMES.len()],
            custom: HashSet::new(),
            filters: Vec::new(),
            my_uuid: None,
        }
    }
}

/// The words after the command word, split on single spaces as
/// mod_event_socket does (`cmd + 5`, then from the first space).
fn words_after(line: &str, skip: usize) -> Option<std::str::Split<'_, char>> {
    let rest = line.get(skip..)?;
    let at = rest.find(' ')?;
    Some(rest[at + 1..].split(' '))
}

impl Subscription {
    /// Whether events of this type are wanted at all (before filters).
    pub fn wants(&self, id: usize, subclass: Option<&str>) -> bool {
        if !self.events_on {
            return false;
        }
        if self.list[ALL] {
            return true;
        }
        self.list.get(id).copied().unwrap_or(false)
            && (id != CUSTOM || subclass.is_none_or(|s| self.custom.contains(s)))
    }

    /// The whole of `event_handler`'s decision for one event.
    pub fn passes(&self, ev: &SimEvent) -> bool {
        if !self.wants(ev.id, ev.subclass.as_deref()) {
            return false;
        }
        let h = &ev.event.headers;
        if let Some(me) = &self.my_uuid {
            let mine = |name| h.get(name).is_some_and(|v| v == me.as_bytes());
            if !mine("Unique-ID") && !mine("Job-Owner-UUID") {
                return false;
            }
        }
        if self.filters.is_empty() {
            return true;
        }
        let mut send = false;
        for f in &self.filters {
            let Some(hval) = h.get(&f.header) else {
                continue;
            };
            let mut positive = true;
            let mut comp = f.value.as_str();
            while let Some(c) = comp.chars().next() {
                match c {
                    '+' => positive = true,
                    '-' => positive = false,
                    ' ' => {}
                    _ => break,
                }
                comp = &comp[1..];
            }
            if send && positive {
                continue;
            }
            let hval = String::from_utf8_lossy(hval);
            let matched = if f.value.starts_with('/') {
                f.regex.as_ref().is_some_and(|r| r.is_match(&hval))
            } else {
                hval.eq_ignore_ascii_case(comp)
            };
            if matched {
                if positive {
                    send = true;
                } else {
                    send = false;
                    break;
                }
            }
        }
        send
    }

    /// `event [plain|json|xml] <names…>`; `line` is the whole command line.
    pub fn event_command(&mut self, line: &str) -> String {
        let mut keys = 0;
        let mut custom = false;
        if let Some(words) = words_after(line, 5) {
            for (i, w) in words.enumerate() {
                if i == 0
                    && let Some(f) = EventFormat::parse(&w.to_ascii_lowercase())
                {
                    self.format = f;
                    continue;
                }
                if custom {
                    self.custom.insert(w.to_string());
                } else if let Some(id) = event_id(w) {
                    keys += 1;
                    if id == ALL {
                        self.list = [true; EVENT_NAMES.len()];
                    }
                    self.list[id] = true;
                    if id == CUSTOM {
                        custom = true;
                    }
                }
            }
        }
        if keys == 0 {
            return "-ERR no keywords supplied".into();
        }
        self.events_on = true;
        format!("+OK event listener enabled {}", self.format.as_str())
    }

    /// `nixevent <names…>`.
    pub fn nixevent_command(&mut self, line: &str) -> String {
        let mut keys = 0;
        let mut custom = false;
        if let Some(words) = words_after(line, 5) {
            for w in words {
                if custom {
                    self.custom.remove(w);
                } else if let Some(id) = event_id(w) {
                    keys += 1;
                    if id == CUSTOM {
                        custom = true;
                    } else if id == ALL {
                        self.list = [false; EVENT_NAMES.len()];
                    } else {
                        if self.list[ALL] {
                            self.list = [true; EVENT_NAMES.len()];
                            self.list[ALL] = false;
                        }
                        self.list[id] = false;
                    }
                }
            }
        }
        if keys == 0 {
            return "-ERR no keywords supplied".into();
        }
        self.events_on = true;
        "+OK events nixed".into()
    }

    /// `noevents`.
    pub fn noevents_command(&mut self) -> String {
        if !self.events_on {
            return "-ERR not listening for events".into();
        }
        self.events_on = false;
        self.list = [false; EVENT_NAMES.len()];
        self.custom.clear();
        "+OK no longer listening for events".into()
    }

    /// `filter <Header> <value>`, `filter add …`, `filter delete <Header>
    /// [value]`, `filter delete all`.
    pub fn filter_command(&mut self, line: &str) -> String {
        let rest = line.get(7..).unwrap_or("").trim_start_matches(' ');
        let (mut name, mut value) = match rest.split_once(' ') {
            Some((n, v)) => (n, Some(v)),
            None => (rest, None),
        };
        if name.eq_ignore_ascii_case("delete")
            && let Some(v) = value
        {
            let (n, val) = match v.split_once(' ') {
                Some((n, val)) => (n, Some(val)),
                None => (v, None),
            };
            if n.eq_ignore_ascii_case("all") {
                self.filters.clear();
            } else {
                self.filters.retain(|f| {
                    !(f.header.eq_ignore_ascii_case(n)
                        && val.is_none_or(|val| val.is_empty() || f.value == val))
                });
            }
            return format!("+OK filter deleted. [{n}][{}]", val.unwrap_or(""));
        }
        let Some(v) = value else {
            return "-ERR invalid syntax".into();
        };
        if name.eq_ignore_ascii_case("add") {
            match v.split_once(' ') {
                Some((n, val)) => {
                    name = n;
                    value = Some(val);
                }
                None => {
                    name = v;
                    value = None;
                }
            }
        }
        let Some(value) = value else {
            // `filter add Header`: FreeSWITCH adds nothing and prints the
            // missing value with printf's "(null)".
            return format!("+OK filter added. [{name}]=[(null)]");
        };
        self.filters.push(Filter {
            header: name.to_string(),
            value: value.to_string(),
            regex: compile_slashed(value),
        });
        format!("+OK filter added. [{name}]=[{value}]")
    }
}
