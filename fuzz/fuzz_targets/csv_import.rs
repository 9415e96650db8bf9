//! The CSV import (tasks and do-not-call numbers) over arbitrary bytes,
//! through `import_tasks` / `import_dnc` as the API and the CLI call them,
//! into the real SQLite store in memory.
//!
//! Input: the first byte chooses the import (tasks or do-not-call) and the
//! campaign's region and zone; the rest is the file.
//!
//! Invariants:
//! - nothing panics (a panic in the parsing thread would also end the
//!   import), and the store never refuses what the checks let through;
//! - a file that cannot be imported at all is an `ImportError::File`;
//! - otherwise every row is counted once: rows = added + duplicates +
//!   rejected, and every rejected row is listed (up to the limit) with the
//!   line it starts on, as an editor numbers lines whatever the line ends
//!   (LF, CRLF, CR; the header is line 1), in file order.

#![no_main]

use dialpop::campaign::import::{ImportError, ImportReport, MAX_LISTED_ERRORS, import_dnc, import_tasks};
use dialpop::campaign::{CampaignSettings, CampaignState};
use dialpop::store::{Campaign, Store};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock, Mutex};

const REGIONS: [(&str, &str); 4] = [
    ("US", "America/New_York"),
    ("GB", "Europe/London"),
    ("CN", "Asia/Shanghai"),
    ("DE", "UTC"),
];

/// A fresh store now and then, so that the rows the runs add do not pile up.
const RUNS_PER_STORE: u32 = 5_000;

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

static STORE: LazyLock<Mutex<(Arc<dyn Store>, u32)>> =
    LazyLock::new(|| Mutex::new((open_store(), 0)));

fn campaign(i: usize) -> Campaign {
    let (region, zone) = REGIONS[i];
    Campaign {
        id: format!("c{i}"),
        name: format!("fuzz {region}"),
        state: CampaignState::Running,
        settings: CampaignSettings {
            region: region.into(),
            time_zone: zone.into(),
            ..CampaignSettings::default()
        },
        created_ms: 0,
        updated_ms: 0,
    }
}

fn open_store() -> Arc<dyn Store> {
    RT.block_on(async {
        let store = dialpop::store::open("sqlite::memory:")
            .await
            .expect("in-memory store");
        for i in 0..REGIONS.len() {
            store.insert_campaign(&campaign(i)).await.expect("campaign");
        }
        store
    })
}

fn store() -> Arc<dyn Store> {
    let mut s = STORE.lock().unwrap_or_else(|e| e.into_inner());
    s.1 += 1;
    if s.1 > RUNS_PER_STORE {
        *s = (open_store(), 1);
    }
    s.0.clone()
}

fn check(report: &ImportReport, file: &[u8]) {
    assert_eq!(
        report.rows,
        report.added + report.duplicates + report.rejected,
        "a row not counted once: {report:?}"
    );
    assert_eq!(
        report.rejected,
        report.errors.len() as u64 + report.errors_not_listed,
        "a rejected row neither listed nor counted: {report:?}"
    );
    assert!(report.errors.len() <= MAX_LISTED_ERRORS);
    let lines = physical_lines(file);
    let mut last = 0;
    for e in &report.errors {
        // The line a row starts on holds its first byte: it exists, it is
        // not the header's, and it is not blank.
        assert!(
            (2..=lines.len() as u64).contains(&e.line),
            "line {} outside the file's 2..={}: {e:?}",
            e.line,
            lines.len()
        );
        assert!(
            !lines[e.line as usize - 1].is_empty(),
            "line {} is blank: {e:?}",
            e.line
        );
        assert!(e.line >= last, "errors out of file order: {report:?}");
        assert!(!e.field.is_empty() && !e.error.is_empty());
        last = e.line;
    }
}

/// The file's lines as an editor shows them: ended by LF, CRLF or a lone CR.
fn physical_lines(file: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < file.len() {
        match file[i] {
            b'\n' => {
                out.push(&file[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&file[start..i]);
                if file.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&file[start..]);
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&sel, file)) = input.split_first() else {
        return;
    };
    let region = usize::from(sel >> 1) % REGIONS.len();
    let store = store();
    let reader = std::io::Cursor::new(file.to_vec());
    let result = RT.block_on(async {
        if sel & 1 == 0 {
            import_tasks(&store, &campaign(region), reader, None, |_| {}).await
        } else {
            let id = phonenumber::country::Id::US;
            let id = match region {
                0 => id,
                1 => phonenumber::country::Id::GB,
                2 => phonenumber::country::Id::CN,
                _ => phonenumber::country::Id::DE,
            };
            import_dnc(&store, Some(format!("c{region}")), id, reader, |_| {}).await
        }
    });
    match result {
        Ok(report) => check(&report, file),
        Err(ImportError::File(msg)) => assert!(!msg.is_empty()),
        Err(ImportError::Store(e)) => panic!("the store refused checked rows: {e}"),
    }
});
