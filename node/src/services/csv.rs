//! Spreadsheets in and out: `post import`, `worker import`, `employer import` (all rows or
//! none), and `post export --csv`, `worker export --csv`, `employer export --csv`,
//! `placement export --csv` (files Excel opens).
//!
//! **Encodings.** Excel in a Chinese locale saves "CSV (comma delimited)" in GBK (code page
//! 936) and "CSV UTF-8" as UTF-8 with a byte order mark. An import reads a UTF-8 BOM as UTF-8, a
//! file that is valid UTF-8 as UTF-8, and anything else as GBK (decoded as GB18030, its
//! superset), unless `--encoding utf-8|gbk` says; a file that is neither is refused naming the
//! line of the first byte that does not decode. An export is UTF-8 with a BOM by default, or
//! GBK; a character GBK lacks (a rare character in a name) is written in its GB18030 form so
//! nothing is lost, and the export lists those cells under `outside_gbk`.
//!
//! **Columns.** The header names the columns as the command's flags (`title`, `wage_min` or
//! `wage-min`) or by their Chinese names ([`POST_COLUMNS`], [`WORKER_COLUMNS`],
//! [`EMPLOYER_COLUMNS`]); a note in brackets and a `*` after a header are ignored (`工资（元）`,
//! `姓名*`). The columns an export adds (`id`, `status`, `created_at`…) are ignored, so an
//! export imports again; any other header is refused, so a typo is not silently dropped.
//! Cells are read as a spreadsheet writes them: dates as `2026/3/5` or `2026年3月5日` too, money
//! with `¥`, `元` or thousands separators, an empty cell as a flag not given.
//!
//! **All rows or none.** Every row is checked with the rule of the single command
//! (`posts::prepare`, `workers::prepare`, `employers::prepare`), duplicates too: within the
//! file (the same person, the same credit code, the same post twice) and against the store (a
//! person or credit code registered here already; a post identical to a live one this station
//! published). Any bad row refuses the whole file with [`NodeError::Csv`], listing every bad row
//! by the number a spreadsheet shows it under (the header is row 1) and its column as headed in
//! the file. Otherwise every row is signed inside one [`Station::write`] closure: one staged
//! batch, one atomic commit, so a crash leaves all rows or none. Workers' and individual
//! employers' clear ID numbers then go to the private table in one more durable write, as
//! `worker register` does after its record.
//!
//! **Exports** write the rows of the matching list command (never a clear ID number: workers
//! and employers carry `id_masked` only) through [`write_atomically`] (mode 0600). A text cell
//! that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` so that
//! a spreadsheet shows it instead of running it as a formula (a post's title comes from any
//! station of the network); an import takes that `'` off again.
//!
//! This is the one service that builds on the others (it reads and writes their records as
//! tables); none of them imports it.
//!
//! [`Station::write`]: crate::station::Station::write

use super::{employers, placements, posts, workers};
use crate::error::{CsvRowError, NodeError, Result};
use crate::home::write_atomically;
use crate::index::{self, Field};
use crate::request::{EmployerFields, PostFields, PostFilter, WorkerFields};
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::record::{RecordId, RecordKind};
use lingong_protocol::schema::{Choice, Post, PostStatus, Schema, Worker};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;

/// What an import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportTable {
    Posts,
    Workers,
    Employers,
}

/// What an export writes, with the filters of the matching list command.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "kebab-case")]
pub enum ExportTable {
    /// `post export --csv` with the filters of `post list` (every matching post unless
    /// `--limit` is given).
    Posts(PostFilter),
    Workers {
        #[serde(default)]
        priority: bool,
    },
    Employers {
        #[serde(default)]
        status: Option<String>,
    },
    Placements {
        #[serde(default)]
        post: Option<String>,
        #[serde(default)]
        worker: Option<String>,
    },
}

/// A file's text encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (an import takes off a byte order mark; an export writes one, so Excel reads it).
    Utf8,
    /// GBK, what Excel in a Chinese locale saves "CSV (comma delimited)" in (read and written as
    /// GB18030, its superset).
    Gbk,
}

impl Encoding {
    /// `--encoding utf-8|gbk` (also `utf8`, `gb18030`, `gb2312`, any case).
    pub fn parse(value: &str) -> Result<Encoding> {
        match value.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb18030" | "gb2312" | "cp936" => Ok(Encoding::Gbk),
            _ => Err(NodeError::usage(
                "encoding",
                "must be utf-8 or gbk",
                "必须是 utf-8 或 gbk",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }
}

/// The most data rows one file may hold (they are signed in one batch, in memory).
pub const MAX_ROWS: usize = 50_000;
/// The largest file an import reads.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// One column of an import: the field (the command's flag, with `_`), the Chinese headers
/// accepted for it, and whether every row must fill it.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub field: &'static str,
    pub zh: &'static [&'static str],
    pub required: bool,
}

const fn col(field: &'static str, zh: &'static [&'static str], required: bool) -> Column {
    Column {
        field,
        zh,
        required,
    }
}

/// The columns of `post import`.
pub const POST_COLUMNS: &[Column] = &[
    col("title", &["岗位名称", "岗位", "标题"], true),
    col("occupation", &["工种", "职业", "职业代码"], true),
    col("wage", &["工资", "薪资", "工资标准"], true),
    col("unit", &["计薪单位", "单位"], true),
    col("headcount", &["人数", "招聘人数"], true),
    col("reach", &["范围", "发布范围"], false),
    col("expires", &["截止日期", "有效期至"], false),
    col("location", &["地点", "工作地点"], false),
    col("contact", &["联系方式", "联系电话"], false),
    col("description", &["说明", "岗位说明", "备注"], false),
    col("employer", &["用工主体", "用工主体编号"], false),
];

/// The columns of `worker import`.
pub const WORKER_COLUMNS: &[Column] = &[
    col("name", &["姓名"], true),
    col(
        "id_number",
        &["身份证号", "身份证号码", "公民身份号码"],
        true,
    ),
    col("phone", &["电话", "手机", "手机号", "联系电话"], true),
    col("skills", &["技能", "工种"], false),
    col("wage_min", &["最低工资", "期望工资"], false),
    col("flags", &["标记", "帮扶标记"], false),
    col("available_from", &["可上岗日期", "开始日期"], false),
    col("available_to", &["可上岗截止日期", "结束日期"], false),
];

/// The columns of `employer import`.
pub const EMPLOYER_COLUMNS: &[Column] = &[
    col("name", &["名称", "单位名称", "用工主体名称"], true),
    col("type", &["类型", "主体类型"], true),
    col("credit_code", &["统一社会信用代码", "信用代码"], false),
    col("id_number", &["身份证号", "身份证号码"], false),
    col("contact", &["联系人"], true),
    col("phone", &["电话", "联系电话"], true),
    col("address", &["地址"], false),
    col("verified_by", &["核验人"], false),
];

/// The columns of `post export --csv` (the import's, with what the node adds around them).
const POST_EXPORT: &[&str] = &[
    "id",
    "title",
    "occupation",
    "wage",
    "unit",
    "headcount",
    "reach",
    "expires",
    "location",
    "contact",
    "description",
    "employer",
    "status",
    "review",
    "filled",
    "region",
    "author",
    "created_at",
];

const WORKER_EXPORT: &[&str] = &[
    "id",
    "name",
    "id_masked",
    "phone",
    "skills",
    "wage_min",
    "flags",
    "available_from",
    "available_to",
    "priority",
    "status",
    "region",
    "created_at",
];

const EMPLOYER_EXPORT: &[&str] = &[
    "id",
    "name",
    "type",
    "credit_code",
    "id_masked",
    "contact",
    "phone",
    "address",
    "verified_by",
    "verified_at",
    "status",
    "suspend_reason",
    "region",
    "created_at",
];

const PLACEMENT_EXPORT: &[&str] = &[
    "id",
    "post_id",
    "post_title",
    "worker_id",
    "worker_name",
    "employer_id",
    "wage",
    "unit",
    "start",
    "end",
    "status",
    "worker_confirmed",
    "employer_confirmed",
    "outcome",
    "cancel_reason",
    "region",
    "created_at",
];

impl ImportTable {
    fn columns(self) -> &'static [Column] {
        match self {
            ImportTable::Posts => POST_COLUMNS,
            ImportTable::Workers => WORKER_COLUMNS,
            ImportTable::Employers => EMPLOYER_COLUMNS,
        }
    }

    /// The columns of this table's export that an import passes over.
    fn export_only(self) -> Vec<&'static str> {
        let (export, more): (&[&'static str], &[&'static str]) = match self {
            ImportTable::Posts => (POST_EXPORT, &["overfilled"]),
            ImportTable::Workers => (WORKER_EXPORT, &["priority_reasons"]),
            ImportTable::Employers => (EMPLOYER_EXPORT, &["verified"]),
        };
        export
            .iter()
            .chain(more)
            .copied()
            .filter(|h| !self.columns().iter().any(|c| c.field == *h))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a file

/// A file read as a table.
#[derive(Clone, Debug)]
pub struct Sheet {
    pub encoding: Encoding,
    /// The header line's cells, as written.
    pub headers: Vec<String>,
    /// The data rows that are not blank.
    pub rows: Vec<SheetRow>,
}

/// One data row and the number a spreadsheet shows it under (the header line is row 1).
#[derive(Clone, Debug)]
pub struct SheetRow {
    pub row: usize,
    pub cells: Vec<String>,
}

fn file_error(row: usize, en: impl Into<String>, zh: impl Into<String>) -> NodeError {
    NodeError::Csv {
        rows: vec![CsvRowError {
            row,
            column: String::new(),
            field: String::new(),
            message_en: en.into(),
            message_zh: zh.into(),
        }],
    }
}

/// Reads and decodes `path` and splits it into header and rows.
pub fn read_file(path: &Path, encoding: Option<Encoding>) -> Result<Sheet> {
    let size = std::fs::metadata(path)
        .map_err(|e| NodeError::io(path, e))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(NodeError::usage(
            "FILE",
            format!(
                "is {size} bytes; split it into files of at most {} MiB",
                MAX_FILE_BYTES >> 20
            ),
            format!(
                "有 {size} 字节；请拆分为每个不超过 {} MiB 的文件",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| NodeError::io(path, e))?;
    sheet_of(&bytes, encoding)
}

/// Decodes a file's bytes and splits them into header and rows.
fn sheet_of(bytes: &[u8], encoding: Option<Encoding>) -> Result<Sheet> {
    let (text, encoding) = decode(bytes, encoding)?;
    let (headers, rows) = split(&text)?;
    Ok(Sheet {
        encoding,
        headers,
        rows,
    })
}

/// What [`check_bytes`] found in a file it did not refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub encoding: Encoding,
    /// The data rows that are not blank.
    pub rows: usize,
}

/// The checks of an import that need no station, over a file's bytes: the encoding (given, or
/// detected), the header against `table`'s columns, and every cell that must parse on its own
/// (required cells, amounts, whole numbers, ID numbers a spreadsheet turned into numbers).
/// Whatever it refuses is [`NodeError::Csv`] naming every bad row with its column and field, or
/// a row-1 error for the file as a whole. [`import`] makes the same checks first, then the
/// station's (each command's `prepare`, duplicates). Pure: the fuzz target `csv_import` runs it
/// on arbitrary bytes.
pub fn check_bytes(
    table: ImportTable,
    bytes: &[u8],
    encoding: Option<Encoding>,
) -> Result<Checked> {
    let sheet = sheet_of(bytes, encoding)?;
    let layout =
        layout(table, &sheet.headers, &sheet.rows).map_err(|rows| NodeError::Csv { rows })?;
    let errors = match table {
        ImportTable::Posts => parse_rows(&sheet, &layout, post_cells).1,
        ImportTable::Workers => parse_rows(&sheet, &layout, worker_cells).1,
        ImportTable::Employers => parse_rows(&sheet, &layout, employer_cells).1,
    };
    refuse_if_any(errors)?;
    Ok(Checked {
        encoding: sheet.encoding,
        rows: sheet.rows.len(),
    })
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The line (from 1) of byte `offset` of `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// Decodes a file: the given encoding, or UTF-8 with a BOM, valid UTF-8, else GBK.
pub fn decode(bytes: &[u8], encoding: Option<Encoding>) -> Result<(String, Encoding)> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(file_error(
            1,
            "the file is UTF-16 (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\" or \"CSV (comma delimited)\"",
            "文件是 UTF-16 编码（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8”或“CSV（逗号分隔）”",
        ));
    }
    let bom = bytes.starts_with(UTF8_BOM);
    let utf8 = |bytes: &[u8]| -> Result<String> {
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        match std::str::from_utf8(body) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => {
                let at = e.valid_up_to() + if bom { UTF8_BOM.len() } else { 0 };
                Err(file_error(
                    line_of(bytes, at),
                    format!("byte {at} is not UTF-8; is the file GBK? try --encoding gbk"),
                    format!("第 {at} 字节不是 UTF-8 编码；文件是否为 GBK？请试 --encoding gbk"),
                ))
            }
        }
    };
    let gbk = |bytes: &[u8], guessed: bool| -> Result<String> {
        if bom {
            return Err(file_error(
                1,
                "the file starts with a UTF-8 byte order mark: it is UTF-8, not GBK; leave out --encoding",
                "文件以 UTF-8 字节顺序标记开头：它是 UTF-8 编码而不是 GBK；请去掉 --encoding",
            ));
        }
        let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
        if had_errors {
            let at = first_undecodable(bytes);
            let (en, zh) = if guessed {
                (
                    format!(
                        "the file is neither UTF-8 nor GBK (byte {at} decodes as neither); save it from the spreadsheet as \"CSV UTF-8\""
                    ),
                    format!(
                        "文件既不是 UTF-8 也不是 GBK 编码（第 {at} 字节两种都无法解码）；请在表格软件中另存为“CSV UTF-8”"
                    ),
                )
            } else {
                (
                    format!("byte {at} is not GBK; is the file UTF-8? try --encoding utf-8"),
                    format!("第 {at} 字节不是 GBK 编码；文件是否为 UTF-8？请试 --encoding utf-8"),
                )
            };
            return Err(file_error(line_of(bytes, at), en, zh));
        }
        Ok(text.into_owned())
    };
    match encoding {
        Some(Encoding::Utf8) => Ok((utf8(bytes)?, Encoding::Utf8)),
        Some(Encoding::Gbk) => Ok((gbk(bytes, false)?, Encoding::Gbk)),
        None if bom || std::str::from_utf8(bytes).is_ok() => Ok((utf8(bytes)?, Encoding::Utf8)),
        None => Ok((gbk(bytes, true)?, Encoding::Gbk)),
    }
}

/// The offset of the first byte GBK cannot decode.
fn first_undecodable(bytes: &[u8]) -> usize {
    let mut decoder = encoding_rs::GBK.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 3 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            read.saturating_sub(bad as usize + after as usize)
        }
        _ => read,
    }
}

/// How many empty lines `text` starts with (`\n`, `\r\n` or `\r` each).
fn blank_lines_at(text: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\r' if text.get(i + 1) == Some(&b'\n') => i += 2,
            b'\r' | b'\n' => i += 1,
            _ => break,
        }
        n += 1;
    }
    n
}

/// Splits decoded text into its header and its non-blank rows, numbered as a spreadsheet
/// numbers them (blank lines, which the csv reader passes over, still take a row number).
fn split(text: &str) -> Result<(Vec<String>, Vec<SheetRow>)> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut headers = None;
    let mut rows = Vec::new();
    let mut row = 0;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            file_error(
                line,
                format!("not a CSV line: {e}"),
                format!("不是有效的 CSV 行：{e}"),
            )
        })?;
        // A record's position is where the reader began looking for it: before the blank
        // lines it passed over (each of them a row in a spreadsheet), and after a CRLF's
        // `\r` when the line before it ended in one.
        let bytes = text.as_bytes();
        let start = record.position().map(|p| p.byte() as usize).unwrap_or(0);
        let mut rest = bytes.get(start..).unwrap_or_default();
        if start > 0 && bytes[start - 1] == b'\r' && rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        row += 1 + blank_lines_at(rest);
        let cells: Vec<String> = record.iter().map(String::from).collect();
        if headers.is_none() {
            let mut cells = cells;
            if let Some(first) = cells.first_mut() {
                *first = first.trim_start_matches('\u{feff}').to_string();
            }
            headers = Some(cells);
            continue;
        }
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(SheetRow { row, cells });
        if rows.len() > MAX_ROWS {
            return Err(NodeError::usage(
                "FILE",
                format!("has more than {MAX_ROWS} rows; split it into several files"),
                format!("超过 {MAX_ROWS} 行；请拆分为几个文件"),
            ));
        }
    }
    let headers = headers.ok_or_else(|| {
        NodeError::usage(
            "FILE",
            "is empty: the first line must name the columns",
            "是空文件：第一行必须是列名",
        )
    })?;
    if rows.is_empty() {
        return Err(NodeError::usage(
            "FILE",
            "has a header line but no rows",
            "只有列名，没有数据行",
        ));
    }
    Ok((headers, rows))
}

/// A header as compared: trimmed, without a BOM, a trailing `*` or a bracketed note
/// (`工资（元）`), leading `--`, lower case, `-` and spaces as `_`.
fn normalize_header(h: &str) -> String {
    let mut h = h.trim().trim_start_matches('\u{feff}').trim();
    for open in ['(', '（', '['] {
        if let Some(i) = h.find(open)
            && i > 0
        {
            h = h[..i].trim_end();
        }
    }
    let h = h.trim_end_matches(['*', '＊']).trim();
    h.trim_start_matches("--")
        .to_lowercase()
        .replace(['-', ' '], "_")
}

/// Which field each column of the file feeds (`None`: passed over).
#[derive(Debug)]
struct Layout {
    headers: Vec<String>,
    fields: Vec<Option<&'static str>>,
}

impl Layout {
    fn index(&self, field: &str) -> Option<usize> {
        self.fields.iter().position(|f| *f == Some(field))
    }

    /// The column of `field` as headed in the file, or the field's name.
    fn column(&self, field: &str) -> String {
        self.index(field)
            .map(|i| self.headers[i].trim().to_string())
            .unwrap_or_else(|| field.to_string())
    }
}

/// Maps the header to the table's fields; every problem of the header line is a row-1 error.
fn layout(
    table: ImportTable,
    headers: &[String],
    rows: &[SheetRow],
) -> std::result::Result<Layout, Vec<CsvRowError>> {
    let columns = table.columns();
    let export_only = table.export_only();
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    let bad = |column: &str, field: &str, en: String, zh: String| CsvRowError {
        row: 1,
        column: column.trim().to_string(),
        field: field.to_string(),
        message_en: en,
        message_zh: zh,
    };
    for (i, header) in headers.iter().enumerate() {
        let h = normalize_header(header);
        if h.is_empty() {
            let used = rows
                .iter()
                .any(|r| r.cells.get(i).is_some_and(|c| !c.trim().is_empty()));
            if used {
                errors.push(bad(
                    "",
                    "",
                    format!("column {} has values but no header", i + 1),
                    format!("第 {} 列有数据但没有列名", i + 1),
                ));
            }
            fields.push(None);
            continue;
        }
        let found = columns
            .iter()
            .find(|c| c.field == h || c.zh.iter().any(|z| normalize_header(z) == h));
        match found {
            Some(c) if fields.contains(&Some(c.field)) => {
                errors.push(bad(
                    header,
                    c.field,
                    format!("a second column for {}", c.field),
                    format!("{} 的第二列（重复的列）", c.field),
                ));
                fields.push(None);
            }
            Some(c) => fields.push(Some(c.field)),
            None if export_only.contains(&h.as_str()) => fields.push(None),
            None => {
                let names: Vec<&str> = columns.iter().map(|c| c.field).collect();
                let zh: Vec<&str> = columns.iter().map(|c| c.zh[0]).collect();
                errors.push(bad(
                    header,
                    "",
                    format!("unknown column; the columns are {}", names.join(", ")),
                    format!("未知的列；可用的列为 {}", zh.join("、")),
                ));
                fields.push(None);
            }
        }
    }
    for c in columns.iter().filter(|c| c.required) {
        if !fields.contains(&Some(c.field)) {
            errors.push(bad(
                c.field,
                c.field,
                format!("the file has no {} column ({})", c.field, c.zh[0]),
                format!("文件缺少「{}」列（{}）", c.zh[0], c.field),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Layout {
            headers: headers.to_vec(),
            fields,
        })
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading cells

/// A leading `'` that [`escape_cell`] put before a formula character comes off again.
fn unescape_cell(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) => rest,
        _ => s,
    }
}

/// What a spreadsheet reads as the start of a formula (and `'`, so escaping is exact).
const FORMULA_START: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

/// A text cell as exported: a leading `'` where a spreadsheet would run it as a formula.
fn escape_cell(s: &str) -> String {
    if s.starts_with(FORMULA_START) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// A date as spreadsheets write it (`2026/3/5`, `2026-3-5`, `2026.3.5`, `2026年3月5日`,
/// `2026/3/5 0:00`) in `YYYY-MM-DD`; anything else unchanged (the field's rule refuses it).
fn normalize_date(s: &str) -> String {
    let trimmed = s.trim();
    let day = trimmed.split_whitespace().next().unwrap_or("");
    let unified: String = day
        .trim_end_matches('日')
        .chars()
        .map(|c| match c {
            '/' | '.' | '年' | '月' => '-',
            c => c,
        })
        .collect();
    let parts: Vec<&str> = unified.split('-').collect();
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit())
    };
    if parts.len() == 3
        && digits(parts[0], 4..=4)
        && digits(parts[1], 1..=2)
        && digits(parts[2], 1..=2)
    {
        format!("{}-{:0>2}-{:0>2}", parts[0], parts[1], parts[2])
    } else {
        trimmed.to_string()
    }
}

/// An amount as spreadsheets write it (`¥3,500.00`, `150元`).
fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s
        .trim()
        .trim_start_matches(['¥', '￥'])
        .trim_end_matches('元')
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// True for what a spreadsheet shows a long number as when it took it for one
/// (`5.22622E+17`): an ID number typed into a number cell has lost its last digits.
fn looks_scientific(s: &str) -> bool {
    let s = s.trim();
    let Some((mantissa, exp)) = s.split_once(['E', 'e']) else {
        return false;
    };
    !mantissa.is_empty()
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        && exp
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit())
        && !exp.is_empty()
}

/// One row's cells by field, collecting the errors of cells that do not parse.
struct Cells<'a> {
    layout: &'a Layout,
    row: &'a SheetRow,
    errors: Vec<CsvRowError>,
}

impl<'a> Cells<'a> {
    fn new(layout: &'a Layout, row: &'a SheetRow) -> Cells<'a> {
        Cells {
            layout,
            row,
            errors: Vec::new(),
        }
    }

    fn bad(&mut self, field: &str, en: impl Into<String>, zh: impl Into<String>) {
        self.errors.push(CsvRowError {
            row: self.row.row,
            column: self.layout.column(field),
            field: field.to_string(),
            message_en: en.into(),
            message_zh: zh.into(),
        });
    }

    /// The cell of `field`, trimmed; `None` when the column is absent or the cell empty.
    fn text(&self, field: &str) -> Option<String> {
        let i = self.layout.index(field)?;
        let cell = self.row.cells.get(i)?.trim();
        let cell = unescape_cell(cell).trim();
        (!cell.is_empty()).then(|| cell.to_string())
    }

    fn required(&mut self, field: &str) -> Option<String> {
        let value = self.text(field);
        if value.is_none() {
            self.bad(field, "must not be empty", "不能为空");
        }
        value
    }

    fn number(&mut self, field: &str, required: bool) -> Option<f64> {
        let text = if required {
            self.required(field)?
        } else {
            self.text(field)?
        };
        let value = parse_number(&text);
        if value.is_none() {
            self.bad(
                field,
                format!("must be an amount in yuan, not {text:?}"),
                format!("必须是以元为单位的金额，而不是 {text:?}"),
            );
        }
        value
    }

    fn whole(&mut self, field: &str, required: bool) -> Option<i64> {
        let text = if required {
            self.required(field)?
        } else {
            self.text(field)?
        };
        match parse_number(&text) {
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => Some(v as i64),
            _ => {
                self.bad(
                    field,
                    format!("must be a whole number, not {text:?}"),
                    format!("必须是整数，而不是 {text:?}"),
                );
                None
            }
        }
    }

    fn date(&mut self, field: &str) -> Option<String> {
        self.text(field).map(|d| normalize_date(&d))
    }

    /// An ID number, refused with a hint when a spreadsheet turned it into a number.
    fn id_number(&mut self, field: &str, required: bool) -> Option<String> {
        let text = if required {
            self.required(field)?
        } else {
            self.text(field)?
        };
        if looks_scientific(&text) {
            self.bad(
                field,
                format!(
                    "the spreadsheet shows this ID number as a number ({text}) and has lost its last digits: format the column as text and type the numbers again"
                ),
                format!(
                    "表格软件把身份证号当成了数字（{text}），后几位已丢失：请把该列设为文本格式后重新录入"
                ),
            );
            return None;
        }
        Some(text)
    }
}

/// Each row's cells read into `F` by `cells`: the rows whose cells all parse, with their row
/// numbers, and the errors of the others.
fn parse_rows<F>(
    sheet: &Sheet,
    layout: &Layout,
    cells: fn(&mut Cells<'_>) -> F,
) -> (Vec<(usize, F)>, Vec<CsvRowError>) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for row in &sheet.rows {
        let mut c = Cells::new(layout, row);
        let f = cells(&mut c);
        if c.errors.is_empty() {
            items.push((row.row, f));
        } else {
            errors.extend(c.errors);
        }
    }
    (items, errors)
}

fn post_cells(c: &mut Cells<'_>) -> PostFields {
    PostFields {
        title: c.required("title"),
        occupation: c.required("occupation"),
        wage: c.number("wage", true),
        unit: c.required("unit"),
        headcount: c.whole("headcount", true),
        reach: c.text("reach"),
        expires: c.date("expires"),
        location: c.text("location"),
        contact: c.text("contact"),
        description: c.text("description"),
        employer: c.text("employer"),
        status: None,
    }
}

fn worker_cells(c: &mut Cells<'_>) -> WorkerFields {
    WorkerFields {
        name: c.required("name"),
        id_number: c.id_number("id_number", true),
        phone: c.required("phone"),
        skills: c.text("skills"),
        wage_min: c.number("wage_min", false),
        flags: c.text("flags"),
        available_from: c.date("available_from"),
        available_to: c.date("available_to"),
    }
}

fn employer_cells(c: &mut Cells<'_>) -> EmployerFields {
    EmployerFields {
        name: c.required("name"),
        kind: c.required("type"),
        credit_code: c.text("credit_code"),
        id_number: c.id_number("id_number", false),
        contact: c.required("contact"),
        phone: c.required("phone"),
        address: c.text("address"),
        verified_by: c.text("verified_by"),
    }
}

/// The field a refused row's error is about, so it names the right column.
fn error_field(table: ImportTable, e: &NodeError) -> Option<String> {
    use lingong_protocol::Error as P;
    match e {
        NodeError::Usage { field, .. } => Some(field.replace('-', "_")),
        NodeError::Protocol(P::InvalidField { field, .. }) => Some(field.to_string()),
        NodeError::Protocol(P::Occupation(_)) => Some(
            match table {
                ImportTable::Workers => "skills",
                _ => "occupation",
            }
            .into(),
        ),
        NodeError::Protocol(P::Region(_)) => Some("reach".into()),
        NodeError::NotFound { .. } | NodeError::Ambiguous { .. } => Some("employer".into()),
        _ => None,
    }
}

/// A row refused by a service's rule, as a row error naming its column.
fn row_error(table: ImportTable, layout: &Layout, row: usize, e: &NodeError) -> CsvRowError {
    let field = error_field(table, e).unwrap_or_default();
    let (en, zh) = match e {
        NodeError::Usage { rule, rule_zh, .. } => (rule.clone(), rule_zh.clone()),
        NodeError::Protocol(lingong_protocol::Error::InvalidField { rule, rule_zh, .. }) => {
            (rule.clone(), rule_zh.clone())
        }
        other => (other.message("en"), other.message("zh")),
    };
    let column = if field.is_empty() || layout.index(&field).is_none() {
        field.clone()
    } else {
        layout.column(&field)
    };
    CsvRowError {
        row,
        column,
        field,
        message_en: en,
        message_zh: zh,
    }
}

fn duplicate(row: usize, column: String, field: &str, en: String, zh: String) -> CsvRowError {
    CsvRowError {
        row,
        column,
        field: field.to_string(),
        message_en: en,
        message_zh: zh,
    }
}

/// Runs `prepare` over the rows on every core (an ID number's argon2id hash takes about
/// 0.16 s), keeping the rows' order.
fn prepare_all<F: Send, T: Send>(
    station: &Station,
    items: Vec<(usize, F)>,
    now: i64,
    prepare: fn(&Station, F, i64) -> Result<T>,
) -> Vec<(usize, Result<T>)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(items.len().max(1));
    if threads <= 1 {
        return items
            .into_iter()
            .map(|(row, f)| (row, prepare(station, f, now)))
            .collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<(usize, F)>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|(row, f)| (row, prepare(station, f, now)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a preparing thread panicked"))
            .collect()
    })
}

/// Splits prepared rows into the good ones and the row errors; a failure that is not the
/// row's fault (a damaged store) ends the import.
fn sort_out<T>(
    table: ImportTable,
    layout: &Layout,
    prepared: Vec<(usize, Result<T>)>,
    errors: &mut Vec<CsvRowError>,
) -> Result<Vec<(usize, T)>> {
    let mut ready = Vec::new();
    for (row, result) in prepared {
        match result {
            Ok(t) => ready.push((row, t)),
            Err(e) if e.is_usage() => errors.push(row_error(table, layout, row, &e)),
            Err(e) => return Err(e),
        }
    }
    Ok(ready)
}

// ---------------------------------------------------------------------------------------------
// Import

/// `post import`, `worker import`, `employer import`: every row checked, then all signed in one
/// atomic batch (nothing with `dry_run`).
pub fn import(
    station: &mut Station,
    table: ImportTable,
    file: &str,
    encoding: Option<&str>,
    dry_run: bool,
) -> Result<Value> {
    let encoding = encoding.map(Encoding::parse).transpose()?;
    let sheet = read_file(Path::new(file), encoding)?;
    let layout =
        layout(table, &sheet.headers, &sheet.rows).map_err(|rows| NodeError::Csv { rows })?;
    let now = now_ms();
    let imported = match table {
        ImportTable::Posts => import_posts(station, &sheet, &layout, now, dry_run)?,
        ImportTable::Workers => import_workers(station, &sheet, &layout, now, dry_run)?,
        ImportTable::Employers => import_employers(station, &sheet, &layout, now, dry_run)?,
    };
    let mut out = json!({
        "imported": if dry_run { 0 } else { imported },
        "file": file,
        "encoding": sheet.encoding.as_str(),
    });
    if dry_run {
        out["dry_run"] = json!(true);
        out["valid"] = json!(imported);
    }
    Ok(out)
}

/// Refuses the file when any row is bad, naming every bad row in row order.
fn refuse_if_any(mut errors: Vec<CsvRowError>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by_key(|e| e.row);
    Err(NodeError::Csv { rows: errors })
}

/// Signs one new record per prepared row inside one [`Station::write`]; a row the accept path
/// refuses refuses the whole batch, naming that row.
///
/// [`Station::write`]: crate::station::Station::write
fn write_rows<T>(
    station: &mut Station,
    table: ImportTable,
    layout: &Layout,
    rows: &[(usize, T)],
    now: i64,
    target: impl Fn(
        &T,
    ) -> (
        Target,
        Vec<(&'static str, lingong_protocol::record::FieldValue)>,
    ),
) -> Result<Vec<RecordId>> {
    station.write(|author, staged| {
        let mut ids = Vec::with_capacity(rows.len());
        for (row, item) in rows {
            let (target, edits) = target(item);
            match author.write(staged, target, &edits, now) {
                Ok(env) => ids.push(env.header.record),
                Err(e) if e.is_usage() => {
                    return Err(NodeError::Csv {
                        rows: vec![row_error(table, layout, *row, &NodeError::from(e))],
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(ids)
    })
}

/// The fields two posts must share to be the same post twice.
fn post_key(p: &Post) -> String {
    [
        p.title.as_str(),
        p.occupation.as_str(),
        &p.wage.to_string(),
        p.unit.as_str(),
        &p.headcount.to_string(),
        &p.reach.to_string(),
        p.location.as_deref().unwrap_or_default(),
        p.contact.as_deref().unwrap_or_default(),
        p.description.as_deref().unwrap_or_default(),
        p.employer.as_deref().unwrap_or_default(),
    ]
    .join("\u{1f}")
}

fn import_posts(
    station: &mut Station,
    sheet: &Sheet,
    layout: &Layout,
    now: i64,
    dry_run: bool,
) -> Result<usize> {
    let table = ImportTable::Posts;
    let (items, mut errors) = parse_rows(sheet, layout, post_cells);
    let prepared = prepare_all(station, items, now, posts::prepare);
    let ready = sort_out(table, layout, prepared, &mut errors)?;
    // The same post twice: within the file, or a live post this station published.
    let me = station.key.public();
    let today = super::today();
    let mut live: HashMap<String, String> = HashMap::new();
    let region = station.region.to_string();
    for state in station.store.list(
        index::prefix(RecordKind::Post, Some((Field::Region, &region, true))),
        None,
    ) {
        let state = state?;
        if state.creator != me || state.doc.is_none() {
            continue;
        }
        if let Ok(p) = Post::from_view(&state.view)
            && p.status != PostStatus::Closed
            && !p.expired_on(today)
        {
            live.insert(post_key(&p), state.id().to_hex());
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (row, post) in &ready {
        let key = post_key(post);
        if let Some(first) = seen.get(&key) {
            errors.push(duplicate(
                *row,
                layout.column("title"),
                "title",
                format!("the same post as row {first}"),
                format!("与第 {first} 行是同一个岗位"),
            ));
        } else if let Some(id) = live.get(&key) {
            errors.push(duplicate(
                *row,
                layout.column("title"),
                "title",
                format!("the same post is already published here ({id}); close it first or change the row"),
                format!("本站已发布相同的岗位（{id}）；请先关闭它或修改该行"),
            ));
        } else {
            seen.insert(key, *row);
        }
    }
    refuse_if_any(errors)?;
    if dry_run {
        return Ok(ready.len());
    }
    let ids = write_rows(station, table, layout, &ready, now, |post: &Post| {
        (
            Target::Create {
                kind: RecordKind::Post,
                reach: Some(post.reach),
            },
            post.edits(),
        )
    })?;
    Ok(ids.len())
}

fn import_workers(
    station: &mut Station,
    sheet: &Sheet,
    layout: &Layout,
    now: i64,
    dry_run: bool,
) -> Result<usize> {
    let table = ImportTable::Workers;
    let (items, mut errors) = parse_rows(sheet, layout, worker_cells);
    let prepared = prepare_all(station, items, now, workers::prepare);
    let ready = sort_out(table, layout, prepared, &mut errors)?;
    let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
    for (row, w) in &ready {
        if let Some(first) = seen.get(&w.id_hash) {
            errors.push(duplicate(
                *row,
                layout.column("id_number"),
                "id_number",
                format!("the same person as row {first}"),
                format!("与第 {first} 行是同一个人"),
            ));
        } else {
            seen.insert(w.id_hash, *row);
        }
    }
    refuse_if_any(errors)?;
    if dry_run {
        return Ok(ready.len());
    }
    let ids = write_rows(
        station,
        table,
        layout,
        &ready,
        now,
        |w: &workers::NewWorker| {
            (
                Target::Create {
                    kind: RecordKind::Worker,
                    reach: None,
                },
                w.worker.edits(),
            )
        },
    )?;
    let private: Vec<(RecordId, String, [u8; 32])> = ids
        .iter()
        .zip(&ready)
        .map(|(id, (_, w))| (*id, w.clear_id.clone(), w.id_hash))
        .collect();
    station.store.put_private_ids(&private)?;
    Ok(ids.len())
}

fn import_employers(
    station: &mut Station,
    sheet: &Sheet,
    layout: &Layout,
    now: i64,
    dry_run: bool,
) -> Result<usize> {
    let table = ImportTable::Employers;
    let (items, mut errors) = parse_rows(sheet, layout, employer_cells);
    let prepared = prepare_all(station, items, now, employers::prepare);
    let ready = sort_out(table, layout, prepared, &mut errors)?;
    // Credit codes registered here already: one scan of the employers, not one per row.
    let mut held: HashMap<String, String> = HashMap::new();
    if ready.iter().any(|(_, e)| e.employer.credit_code.is_some()) {
        for state in station
            .store
            .list(index::prefix(RecordKind::Employer, None), None)
        {
            let state = state?;
            if let Some(code) = state.view.get("credit_code").and_then(|c| c.as_str()) {
                held.insert(code.to_string(), state.id().to_hex());
            }
        }
    }
    let mut codes: HashMap<&str, usize> = HashMap::new();
    let mut people: HashMap<[u8; 32], usize> = HashMap::new();
    for (row, e) in &ready {
        if let Some(code) = e.employer.credit_code.as_deref() {
            if let Some(first) = codes.get(code) {
                errors.push(duplicate(
                    *row,
                    layout.column("credit_code"),
                    "credit_code",
                    format!("the same credit code as row {first}"),
                    format!("与第 {first} 行的统一社会信用代码相同"),
                ));
                continue;
            }
            if let Some(other) = held.get(code) {
                let mut err = row_error(table, layout, *row, &employers::already_registered(other));
                err.column = layout.column("credit_code");
                errors.push(err);
                continue;
            }
            codes.insert(code, *row);
        }
        if let Some((_, hash)) = &e.clear_id {
            if let Some(first) = people.get(hash) {
                errors.push(duplicate(
                    *row,
                    layout.column("id_number"),
                    "id_number",
                    format!("the same person as row {first}"),
                    format!("与第 {first} 行是同一个人"),
                ));
                continue;
            }
            people.insert(*hash, *row);
        }
    }
    refuse_if_any(errors)?;
    if dry_run {
        return Ok(ready.len());
    }
    let ids = write_rows(
        station,
        table,
        layout,
        &ready,
        now,
        |e: &employers::NewEmployer| {
            (
                Target::Create {
                    kind: RecordKind::Employer,
                    reach: None,
                },
                e.employer.edits(),
            )
        },
    )?;
    let private: Vec<(RecordId, String, [u8; 32])> = ids
        .iter()
        .zip(&ready)
        .filter_map(|(id, (_, e))| {
            e.clear_id
                .as_ref()
                .map(|(clear, hash)| (*id, clear.clone(), *hash))
        })
        .collect();
    station.store.put_private_ids(&private)?;
    Ok(ids.len())
}

// ---------------------------------------------------------------------------------------------
// Export

/// `post export --csv`, `worker export --csv`, `employer export --csv`,
/// `placement export --csv`: the rows of the matching list as a CSV file (mode 0600).
pub fn export(
    station: &Station,
    what: &ExportTable,
    file: &str,
    encoding: Option<&str>,
) -> Result<Value> {
    let encoding = encoding
        .map(Encoding::parse)
        .transpose()?
        .unwrap_or(Encoding::Utf8);
    let (columns, rows) = match what {
        ExportTable::Posts(filter) => (POST_EXPORT, post_rows(station, filter)?),
        ExportTable::Workers { priority } => {
            (WORKER_EXPORT, array(workers::list(station, *priority)?))
        }
        ExportTable::Employers { status } => (
            EMPLOYER_EXPORT,
            array(employers::list(station, status.as_deref())?),
        ),
        ExportTable::Placements { post, worker } => (
            PLACEMENT_EXPORT,
            placement_rows(station, post.as_deref(), worker.as_deref())?,
        ),
    };
    let (bytes, outside_gbk) = write_sheet(columns, &rows, encoding)?;
    write_atomically(Path::new(file), &bytes)?;
    let mut out = json!({
        "rows": rows.len(),
        "file": file,
        "encoding": encoding.as_str(),
    });
    if !outside_gbk.is_empty() {
        out["outside_gbk"] = json!(outside_gbk);
    }
    Ok(out)
}

fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(rows) => rows,
        _ => Vec::new(),
    }
}

/// The rows of `post list` with the same filters (every matching post unless `--limit` is
/// given), with the fields the list leaves out (location, contact, description).
fn post_rows(station: &Station, filter: &PostFilter) -> Result<Vec<Value>> {
    let mut rows = array(posts::list(station, filter)?);
    for row in &mut rows {
        let Some(id) = row["id"].as_str() else {
            continue;
        };
        let state = station.resolve(RecordKind::Post, id)?;
        if let Ok(post) = Post::from_view(&state.view) {
            row["location"] = json!(post.location);
            row["contact"] = json!(post.contact);
            row["description"] = json!(post.description);
        }
    }
    Ok(rows)
}

/// The rows of `placement list`, with the post's title and the worker's name as held here.
fn placement_rows(
    station: &Station,
    post: Option<&str>,
    worker: Option<&str>,
) -> Result<Vec<Value>> {
    let mut rows = array(placements::list(station, post, worker)?);
    let mut titles: HashMap<String, Value> = HashMap::new();
    let mut names: HashMap<String, Value> = HashMap::new();
    for row in &mut rows {
        if let Some(p) = row["post_id"].as_str() {
            let title = titles.entry(p.to_string()).or_insert_with(|| {
                station
                    .resolve(RecordKind::Post, p)
                    .ok()
                    .and_then(|s| s.view.get("title").cloned())
                    .unwrap_or(Value::Null)
            });
            row["post_title"] = title.clone();
        }
        if let Some(w) = row["worker_id"].as_str() {
            let name = names.entry(w.to_string()).or_insert_with(|| {
                // Through the schema, so an erased record (PIPL) shows no name whatever a stale
                // station's concurrent edit left in the document.
                station
                    .resolve(RecordKind::Worker, w)
                    .ok()
                    .and_then(|s| super::typed::<Worker>(&s).ok())
                    .filter(|w| !w.name.is_empty())
                    .map_or(Value::Null, |w| Value::from(w.name))
            });
            row["worker_name"] = name.clone();
        }
    }
    Ok(rows)
}

/// A JSON value as a cell: text (escaped against formulas), numbers without a needless `.0`,
/// lists joined with commas, null empty.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => escape_cell(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Array(items) => escape_cell(
            &items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => cell(other),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => escape_cell(&v.to_string()),
    }
}

/// The file's bytes (CRLF line ends as Excel writes them; UTF-8 with a BOM, or GBK) and the
/// cells GBK has no code for (written in their GB18030 form), as `{"row", "column"}`.
fn write_sheet(
    columns: &[&str],
    rows: &[Value],
    encoding: Encoding,
) -> Result<(Vec<u8>, Vec<Value>)> {
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let io = |e: ::csv::Error| NodeError::Io {
        path: "csv".into(),
        source: std::io::Error::other(e.to_string()),
    };
    writer.write_record(columns).map_err(io)?;
    let mut outside_gbk = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = columns.iter().map(|c| cell(&row[*c])).collect();
        if encoding == Encoding::Gbk {
            for (c, text) in columns.iter().zip(&cells) {
                if !text.is_ascii() && encoding_rs::GBK.encode(text).2 {
                    outside_gbk.push(json!({ "row": i + 2, "column": c }));
                }
            }
        }
        writer.write_record(&cells).map_err(io)?;
    }
    let text = writer
        .into_inner()
        .map_err(|e| io(::csv::Error::from(e.into_error())))?;
    let bytes = match encoding {
        Encoding::Utf8 => [UTF8_BOM, &text].concat(),
        Encoding::Gbk => {
            let text =
                String::from_utf8(text).expect("the csv writer wrote the UTF-8 it was given");
            encoding_rs::GB18030.encode(&text).0.into_owned()
        }
    };
    Ok((bytes, outside_gbk))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(text: &str) -> Vec<(usize, Vec<String>)> {
        split(text)
            .unwrap()
            .1
            .into_iter()
            .map(|r| (r.row, r.cells))
            .collect()
    }

    #[test]
    fn csv_encodings_are_detected_bom_utf8_then_gbk() {
        let text = "岗位名称,工资\r\n保洁,150\r\n";
        let gbk = encoding_rs::GBK.encode(text).0.into_owned();
        assert_ne!(gbk, text.as_bytes());
        assert_eq!(decode(&gbk, None).unwrap(), (text.into(), Encoding::Gbk));
        assert_eq!(
            decode(text.as_bytes(), None).unwrap(),
            (text.into(), Encoding::Utf8)
        );
        let bom = [UTF8_BOM, text.as_bytes()].concat();
        assert_eq!(decode(&bom, None).unwrap(), (text.into(), Encoding::Utf8));
        // Told: a GBK file read as UTF-8 is refused naming its line; a BOM file as GBK too.
        let err = decode(&gbk, Some(Encoding::Utf8)).unwrap_err();
        assert!(
            matches!(&err, NodeError::Csv { rows } if rows[0].row == 1),
            "{err}"
        );
        assert!(decode(&bom, Some(Encoding::Gbk)).is_err());
        assert!(decode(b"\xFF\xFEa\0", None).is_err());
    }

    #[test]
    fn csv_bytes_neither_utf8_nor_gbk_are_refused_on_their_line() {
        let bytes = b"title,wage\r\nok,1\r\nbad \x81\x20,2\r\n";
        match decode(bytes, None).unwrap_err() {
            NodeError::Csv { rows } => assert_eq!(rows[0].row, 3),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn csv_rows_are_numbered_as_a_spreadsheet_shows_them() {
        let text = "a,b\r\n1,2\r\n\r\n3,\"x\r\ny\"\r\n,\r\n4,5\r\n";
        assert_eq!(
            rows_of(text),
            vec![
                (2, vec!["1".into(), "2".into()]),
                (4, vec!["3".into(), "x\r\ny".into()]),
                (6, vec!["4".into(), "5".into()]),
            ]
        );
    }

    #[test]
    fn csv_rows_are_numbered_alike_with_lf_line_ends() {
        let rows: Vec<usize> = rows_of("a,b\n1,2\n\n\n3,4\n5,6")
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(rows, vec![2, 5, 6]);
    }

    #[test]
    fn csv_headers_match_flags_and_chinese_names() {
        let headers: Vec<String> = [
            "岗位名称*",
            "工种",
            "工资（元）",
            "--unit",
            "人数",
            "id",
            "",
        ]
        .map(String::from)
        .to_vec();
        let layout = layout(ImportTable::Posts, &headers, &[]).unwrap();
        assert_eq!(
            layout.fields,
            vec![
                Some("title"),
                Some("occupation"),
                Some("wage"),
                Some("unit"),
                Some("headcount"),
                None,
                None
            ]
        );
        assert_eq!(layout.column("wage"), "工资（元）");
        let headers: Vec<String> = ["name", "wage-min", "身份证号", "tel"]
            .map(String::from)
            .to_vec();
        let errors = layout_errors(ImportTable::Workers, &headers);
        assert_eq!(
            errors,
            vec![
                ("tel".to_string(), String::new()),
                ("phone".into(), "phone".into())
            ]
        );
    }

    fn layout_errors(table: ImportTable, headers: &[String]) -> Vec<(String, String)> {
        layout(table, headers, &[])
            .unwrap_err()
            .into_iter()
            .map(|e| (e.column, e.field))
            .collect()
    }

    #[test]
    fn csv_cells_read_as_spreadsheets_write_them() {
        assert_eq!(normalize_date("2026/3/5"), "2026-03-05");
        assert_eq!(normalize_date("2026年3月5日"), "2026-03-05");
        assert_eq!(normalize_date("2026/12/25 0:00"), "2026-12-25");
        assert_eq!(normalize_date("next week"), "next week");
        assert_eq!(parse_number("¥3,500.00"), Some(3500.0));
        assert_eq!(parse_number("150元"), Some(150.0));
        assert_eq!(parse_number("abc"), None);
        assert!(looks_scientific("5.22622E+17"));
        assert!(!looks_scientific("52262219900101123X"));
    }

    #[test]
    fn csv_formula_escaping_round_trips_exactly() {
        for s in [
            "=SUM(A1)", "+1", "-x", "@a", "'", "''=a", "'abc", "plain", "", "a=b",
        ] {
            let escaped = escape_cell(s);
            assert!(!escaped.starts_with(['=', '+', '-', '@']), "{escaped}");
            assert_eq!(unescape_cell(&escaped), s);
        }
        assert_eq!(unescape_cell("'abc"), "'abc");
    }

    #[test]
    fn csv_export_writes_bom_crlf_or_gbk_and_lists_cells_outside_gbk() {
        let rows = vec![json!({"name": "张三", "n": 150.0, "l": ["a", "b"], "x": null})];
        let (bytes, _) = write_sheet(&["name", "n", "l", "x"], &rows, Encoding::Utf8).unwrap();
        assert_eq!(
            bytes,
            "\u{feff}name,n,l,x\r\n张三,150,\"a,b\",\r\n".as_bytes()
        );
        let rows = vec![json!({"name": "张三"}), json!({"name": "😀"})];
        let (bytes, outside) = write_sheet(&["name"], &rows, Encoding::Gbk).unwrap();
        assert_eq!(outside, vec![json!({"row": 3, "column": "name"})]);
        let (text, enc) = decode(&bytes, None).unwrap();
        assert_eq!(
            (text.as_str(), enc),
            ("name\r\n张三\r\n😀\r\n", Encoding::Gbk)
        );
    }
}
