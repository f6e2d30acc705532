//! `services::csv::check_bytes` (the checks of `post import`, `worker import` and
//! `employer import` that need no station: decoding UTF-8 or GBK, the header, every cell) on
//! arbitrary files: no panic, no allocation beyond a fixed bound (run.sh's malloc limit; a
//! file holds at most 70 kB here, and the importer's own bounds are `MAX_FILE_BYTES` and
//! `MAX_ROWS`), and every refusal is an error value naming where: a row error carries its row
//! (from 1, the header line being row 1) and both messages, an error about a cell names its
//! field and column, and the only other refusal names the file (`FILE`).
//!
//! The first byte picks the table (posts, workers, employers) and the `--encoding` given
//! (none, utf-8, gbk); the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingong_node::error::NodeError;
use lingong_node::services::csv::{Encoding, ImportTable, MAX_ROWS, check_bytes};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, file)) = data.split_first() else {
        return;
    };
    let table = match choice % 3 {
        0 => ImportTable::Posts,
        1 => ImportTable::Workers,
        _ => ImportTable::Employers,
    };
    let encoding = match (choice / 3) % 3 {
        0 => None,
        1 => Some(Encoding::Utf8),
        _ => Some(Encoding::Gbk),
    };
    match check_bytes(table, file, encoding) {
        Ok(checked) => {
            assert!((1..=MAX_ROWS).contains(&checked.rows), "{checked:?}");
            if let Some(e) = encoding {
                assert_eq!(checked.encoding, e, "the encoding given is the one used");
            }
        }
        Err(NodeError::Csv { rows }) => {
            assert!(!rows.is_empty(), "a refusal names at least one row");
            for r in &rows {
                assert!(r.row >= 1, "every error names its row: {r:?}");
                assert!(
                    !r.message_en.trim().is_empty() && !r.message_zh.trim().is_empty(),
                    "both languages: {r:?}"
                );
                // A cell's error (a data row, a field named) names the column it was read from.
                if !r.field.is_empty() {
                    assert!(
                        !r.column.is_empty(),
                        "a field's error names its column: {r:?}"
                    );
                }
                if r.row > 1 && r.column.is_empty() {
                    assert_eq!(
                        rows.len(),
                        1,
                        "only a file-level error has no column: {r:?}"
                    );
                }
            }
            assert!(
                rows.windows(2).all(|w| w[0].row <= w[1].row),
                "rows are named in order"
            );
        }
        Err(NodeError::Usage {
            field,
            rule,
            rule_zh,
        }) => {
            assert_eq!(
                field, "FILE",
                "the only other refusal is about the file: {rule}"
            );
            assert!(!rule.is_empty() && !rule_zh.is_empty());
        }
        Err(other) => panic!("a refusal that names no row, column or field: {other:?}"),
    }
});
