use super::*;
use crate::campaign::{CampaignSettings, CampaignState};

async fn store_with(campaign: &Campaign) -> Arc<dyn Store> {
    let store = crate::store::open("sqlite::memory:").await.expect("store");
    store.insert_campaign(campaign).await.expect("campaign");
    store
}

fn campaign() -> Campaign {
    Campaign {
        id: "c".into(),
        name: "c".into(),
        state: CampaignState::Running,
        settings: CampaignSettings::default(),
        created_ms: 0,
        updated_ms: 0,
    }
}

fn lines(r: &ImportReport) -> Vec<u64> {
    r.errors.iter().map(|e| e.line).collect()
}

/// Found by fuzzing (fuzz/fuzz_targets/csv_import.rs): with CRLF line
/// ends, as spreadsheets write CSV, every bad row was reported on the
/// line before its own (the first one on the header's line). The same
/// cause put a row after a blank line on the blank line, and csv counts
/// only LFs, so with CR line ends (old Mac exports) every row was on
/// line 1.
#[tokio::test]
async fn bad_rows_are_reported_on_their_own_lines_whatever_the_line_ends() {
    let c = campaign();
    let store = store_with(&c).await;
    for (file, want) in [
        (
            &b"customer_id,phone\r\n,+12127360001\r\nc2,bad\r\n"[..],
            vec![2, 3],
        ),
        (b"customer_id,phone\n,+12127360001\nc2,bad\n", vec![2, 3]),
        (
            b"customer_id,phone\n\n,+12127360001\n\r\n\r\nc2,bad",
            vec![3, 6],
        ),
        (
            b"customer_id,phone\rc1,bad\r\"c2\nstill c2\",bad\nc3,bad",
            vec![2, 3, 5],
        ),
        (
            b"customer_id,phone\r\nc1,+12127360011\r\nc\xff,bad\r\n",
            vec![3],
        ),
    ] {
        let r = import_tasks(
            &store,
            &c,
            std::io::Cursor::new(file.to_vec()),
            None,
            |_| {},
        )
        .await
        .expect("imports");
        assert_eq!(lines(&r), want, "{:?}", String::from_utf8_lossy(file));
    }
}

/// Seen while writing the fuzz target's file-order check: a do-not-call
/// file's unreadable rows were listed after its bad numbers.
#[tokio::test]
async fn dnc_errors_are_in_file_order() {
    let store = store_with(&campaign()).await;
    let file = b"phone,reason\n\xff,x\nnope,\n+12127360110,asked\n".to_vec();
    let r = import_dnc(
        &store,
        None,
        phonenumber::country::Id::US,
        std::io::Cursor::new(file),
        |_| {},
    )
    .await
    .expect("imports");
    assert_eq!(lines(&r), vec![2, 3]);
    assert_eq!((r.rows, r.added, r.rejected), (3, 1, 2));
}
