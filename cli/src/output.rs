//! Printing results: `--json` prints exactly one JSON value on stdout; otherwise a readable
//! table (lists) or key/value lines (objects; nested objects as dotted keys, lists of objects
//! as tables under their key). Failures go to stderr as one line, and with
//! `--json` also as `{"error": {"code", "message"}}` on stdout; a refused CSV import adds its
//! bad rows (`"rows": [{"row", "column", "field", "message"}]`, and one stderr line each).
//! In readable output under Chinese, a value that is an RFC 3339 time (the node's UTC
//! `2026-12-07T21:42:01Z`) prints as China Standard Time, `2026-12-08 05:42:01`, as the web
//! console shows it; under English it stays as it is, and `--json` is never changed.

use lingong_node::control::Failure;
use serde_json::Value;

/// Like `std::println!`, but a closed pipe (`lingong … | head`) ends the program quietly
/// instead of panicking.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// A help page as clap rendered it (and `help_zh` translated), on stdout.
pub fn print_help(text: &str) {
    println!("{}", text.trim_end());
}

/// `value` on stdout: one JSON value under `--json`, else readable (`lang` decides whether
/// times print as China time).
pub fn print_value(value: &Value, json: bool, lang: &str) {
    if json {
        println!("{}", serde_json::to_string(value).expect("json"));
        return;
    }
    let cst = lang.starts_with("zh");
    match value {
        Value::Array(rows) if rows.is_empty() => println!("(none / 无)"),
        Value::Array(rows) => print_table(rows, cst),
        Value::Object(map) => print_object(map, "", cst),
        other => println!("{}", cell(other, cst)),
    }
}

/// Key/value lines; a nested object's keys follow their parent's with a dot (`figures.posts`),
/// and a list of objects (a seal's children, a verification's mismatches) prints as a table
/// under its key.
fn print_object(map: &serde_json::Map<String, Value>, prefix: &str, cst: bool) {
    for (k, v) in map {
        let key = format!("{prefix}{k}");
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                print_object(inner, &format!("{key}."), cst)
            }
            Value::Array(rows) if !rows.is_empty() && rows.iter().all(Value::is_object) => {
                println!("{key:>18}:");
                print_table(rows, cst);
            }
            other => println!("{key:>18}: {}", cell(other, cst)),
        }
    }
}

/// A value as one cell of text; with `cst`, an RFC 3339 time as China time
/// (`protocol::dates::cst_time`: `2026-12-08 05:42:01`).
fn cell(v: &Value, cst: bool) -> String {
    match v {
        Value::String(s) if cst => {
            lingong_protocol::dates::cst_time(s).unwrap_or_else(|| s.clone())
        }
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => items
            .iter()
            .map(|i| cell(i, cst))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn print_table(rows: &[Value], cst: bool) {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        if let Value::Object(m) = row {
            for k in m.keys() {
                if !columns.contains(k) && columns.len() < 9 {
                    columns.push(k.clone());
                }
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    let s = cell(r.get(c).unwrap_or(&Value::Null), cst);
                    if s.chars().count() > 34 {
                        format!("{}…", s.chars().take(33).collect::<String>())
                    } else {
                        s
                    }
                })
                .collect()
        })
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|r| display_width(&r[i]))
            .chain([columns[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let line = |items: &[String]| {
        items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s}{}", " ".repeat(w - display_width(s))))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&columns));
    for r in &cells {
        println!("{}", line(r));
    }
}

/// Terminal width of text: CJK characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

pub fn print_failure(failure: &Failure, json: bool, lang: &str) {
    let message = failure.message(lang);
    let prefix = if lang.starts_with("zh") {
        "错误"
    } else {
        "error"
    };
    let rows = failure.csv_rows();
    match rows {
        // A refused CSV import without --json: how many rows, then each on a line of its own.
        Some(rows) if !json => {
            if lang.starts_with("zh") {
                eprintln!("{prefix}: 文件有 {} 处错误，未导入任何记录：", rows.len());
            } else {
                eprintln!(
                    "{prefix}: the file has {} error{}, nothing was imported:",
                    rows.len(),
                    if rows.len() == 1 { "" } else { "s" }
                );
            }
        }
        _ => eprintln!("{prefix}: {message}"),
    }
    if !json && let Some(rows) = rows {
        for r in rows {
            let column = if r.column.is_empty() {
                String::new()
            } else if lang.starts_with("zh") {
                format!("「{}」", r.column)
            } else {
                format!(" ({})", r.column)
            };
            let row = if lang.starts_with("zh") {
                format!("第 {} 行", r.row)
            } else {
                format!("row {}", r.row)
            };
            eprintln!("  {row}{column}: {}", r.message(lang));
        }
    }
    if json {
        let mut error = serde_json::json!({"code": failure.code(), "message": message});
        if let Some(rows) = rows {
            error["rows"] = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "row": r.row,
                        "column": r.column,
                        "field": r.field,
                        "message": r.message(lang),
                    })
                })
                .collect();
        }
        println!("{}", serde_json::json!({ "error": error }));
    }
}
