//! Statistical division codes ([`RegionCode`]) and the bundled Guizhou division table.
//!
//! lingong scopes everything it does by region: a node serves a province, a city, a county, a
//! township or a village, and records carry the code of the place they belong to. Codes follow
//! the National Bureau of Statistics scheme, where the length of the code says its level:
//!
//! | level | digits | example | name |
//! |---|---|---|---|
//! | [`Level::Province`] | 2 | `52` | 贵州省 |
//! | [`Level::City`] | 4 | `5201` | 贵阳市 |
//! | [`Level::County`] | 6 | `520102` | 南明区 |
//! | [`Level::Township`] | 9 | `520102016` | 新华路街道 |
//! | [`Level::Village`] | 12 | `520102016001` | 纪念塔社区 |
//!
//! A code's ancestors are its prefixes at the shorter lengths, so "is this place inside that
//! one" is a prefix test ([`RegionCode::contains`]). Codes are written without zero padding:
//! the province is `52`, never `520000` or `520000000000`. [`RegionCode::parse`] rejects a code
//! with an all-zero segment, which catches padded codes pasted from other systems.
//!
//! The table of Guizhou's 19,572 divisions (`data/guizhou-divisions.csv`, see
//! `data/README.md` for its source and licence) is compiled in and parsed once, on first use
//! of [`divisions`].
//!
//! # Ordering
//!
//! `RegionCode`'s `Ord` is the string order of the digit strings (`"52" < "5201" < "520102" <
//! "5202"`). A region and all of its descendants therefore form one contiguous range that
//! starts at the region itself, which is handy for range scans over sorted keys.
//!
//! # Canonical bytes
//!
//! [`RegionCode::to_bytes`] gives the fixed 8-byte form used inside signed bytes: byte 0 is the
//! number of digits (2, 4, 6, 9 or 12) and bytes 1..8 are the code's numeric value as a 7-byte
//! big-endian unsigned integer (10^12 < 2^56, so it always fits). For example `520102` is
//! `[6, 0, 0, 0, 0, 0x07, 0xEF, 0xA6]`. [`RegionCode::from_bytes`] applies the same rules as
//! [`RegionCode::parse`], so every valid code has exactly one encoding.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The bundled division table, embedded at compile time.
const DIVISIONS_CSV: &str = include_str!("../data/guizhou-divisions.csv");

/// The header line `data/guizhou-divisions.csv` must start with.
const DIVISIONS_HEADER: &str = "code,level,name,parent";

/// Code prefix of Guizhou province, whose codes [`RegionCode::parse_known`] checks against the
/// bundled table.
const GUIZHOU_PREFIX: u64 = 52;

/// The longest code has 12 digits.
const MAX_DIGITS: usize = 12;

/// `POW10[n]` is 10^n for n in 0..=12.
const POW10: [u64; 13] = {
    let mut table = [1u64; 13];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// The two-digit codes of China's 34 provincial-level divisions.
const PROVINCE_PREFIXES: [u8; 34] = [
    11, 12, 13, 14, 15, // North
    21, 22, 23, // North-east
    31, 32, 33, 34, 35, 36, 37, // East
    41, 42, 43, 44, 45, 46, // Central and south
    50, 51, 52, 53, 54, // South-west
    61, 62, 63, 64, 65, // North-west
    71, // Taiwan
    81, 82, // Hong Kong, Macao
];

fn is_province_prefix(prefix: u64) -> bool {
    PROVINCE_PREFIXES.iter().any(|&p| u64::from(p) == prefix)
}

/// The level of a division, from the province down to the village.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 省: 2-digit code, e.g. `52`.
    Province,
    /// 市 (city or prefecture): 4-digit code, e.g. `5201`.
    City,
    /// 县 (county, district or county-level city): 6-digit code, e.g. `520102`.
    County,
    /// 乡镇 (township, town or street): 9-digit code, e.g. `520102016`.
    Township,
    /// 村 (village or community): 12-digit code, e.g. `520102016001`.
    Village,
}

impl Level {
    /// All levels, from the top down.
    pub const ALL: [Level; 5] = [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ];

    /// Distance from the top: 0 for the province, 4 for a village.
    pub fn depth(self) -> u8 {
        match self {
            Level::Province => 0,
            Level::City => 1,
            Level::County => 2,
            Level::Township => 3,
            Level::Village => 4,
        }
    }

    /// Number of digits in a code at this level: 2, 4, 6, 9 or 12.
    pub fn code_len(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
        }
    }

    /// The level whose codes have `n` digits, if any.
    pub fn from_code_len(n: usize) -> Option<Level> {
        match n {
            2 => Some(Level::Province),
            4 => Some(Level::City),
            6 => Some(Level::County),
            9 => Some(Level::Township),
            12 => Some(Level::Village),
            _ => None,
        }
    }

    /// The English name used in text and serde: `"province"`, `"city"`, `"county"`,
    /// `"township"` or `"village"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    /// The Chinese name: 省, 市, 县, 乡镇 or 村.
    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Province => "省",
            Level::City => "市",
            Level::County => "县",
            Level::Township => "乡镇",
            Level::Village => "村",
        }
    }

    /// Reads a level from its English name (any ASCII case) or its Chinese name, ignoring
    /// surrounding whitespace.
    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim();
        Level::ALL
            .into_iter()
            .find(|level| s.eq_ignore_ascii_case(level.as_str()) || s == level.name_zh())
    }

    /// The next level down, or `None` for a village.
    pub fn below(self) -> Option<Level> {
        Level::ALL.get(usize::from(self.depth()) + 1).copied()
    }

    /// The next level up, or `None` for the province.
    pub fn above(self) -> Option<Level> {
        usize::from(self.depth())
            .checked_sub(1)
            .map(|i| Level::ALL[i])
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a region code was rejected.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RegionError {
    /// The input was empty or only whitespace.
    #[error("region code is empty; it must be 2, 4, 6, 9 or 12 digits")]
    Empty,
    /// The input contains something other than ASCII digits.
    #[error("region code {input:?} contains characters other than the digits 0-9")]
    NotDigits { input: String },
    /// The number of digits is not one of the level lengths.
    #[error(
        "region code {input:?} has {len} digits; it must have 2 (province), 4 (city), \
         6 (county), 9 (township) or 12 (village)"
    )]
    BadLength { input: String, len: usize },
    /// The first two digits are not a provincial division code.
    #[error(
        "region code {input:?} does not start with a province code (the first two digits \
         must be one of 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81 or 82)"
    )]
    BadProvince { input: String },
    /// One level's segment is all zeros, as in a zero-padded code such as `520000`.
    #[error(
        "region code {input:?} has an all-zero {level} segment; write the division's own \
         code without zero padding (for example 52, not 520000)"
    )]
    ZeroSegment { input: String, level: Level },
    /// The code is well formed and in Guizhou, but not in the bundled division table.
    #[error("region code {code} is not in the bundled Guizhou division table")]
    Unknown { code: RegionCode },
    /// Byte 0 of an 8-byte encoded code is not a valid code length.
    #[error("encoded region code has length byte {len}; it must be 2, 4, 6, 9 or 12")]
    BadEncodedLength { len: u8 },
    /// The numeric value of an 8-byte encoded code has more digits than its length byte says.
    #[error(
        "encoded region code value {value} has more than the {len} digits its length byte allows"
    )]
    BadEncodedValue { len: u8, value: u64 },
}

impl RegionError {
    /// A stable machine-readable code for this error, such as `"region-unknown"`.
    pub fn code(&self) -> &'static str {
        match self {
            RegionError::Empty => "region-empty",
            RegionError::NotDigits { .. } => "region-not-digits",
            RegionError::BadLength { .. } => "region-bad-length",
            RegionError::BadProvince { .. } => "region-bad-province",
            RegionError::ZeroSegment { .. } => "region-zero-segment",
            RegionError::Unknown { .. } => "region-unknown",
            RegionError::BadEncodedLength { .. } => "region-bad-encoded-length",
            RegionError::BadEncodedValue { .. } => "region-bad-encoded-value",
        }
    }

    /// The same message in plain Chinese, for a station clerk.
    pub fn message_zh(&self) -> String {
        match self {
            RegionError::Empty => "地区代码为空：应填写 2、4、6、9 或 12 位数字。".to_string(),
            RegionError::NotDigits { input } => {
                format!("地区代码“{input}”含有数字以外的字符：只能填写 0 到 9 的数字。")
            }
            RegionError::BadLength { input, len } => format!(
                "地区代码“{input}”有 {len} 位：应为 2 位（省）、4 位（市）、6 位（县）、\
                 9 位（乡镇）或 12 位（村）。"
            ),
            RegionError::BadProvince { input } => {
                format!("地区代码“{input}”的前两位不是有效的省级代码。")
            }
            RegionError::ZeroSegment { input, level } => format!(
                "地区代码“{input}”中{}一级的数字全是 0：请直接填写该地区本身的代码，\
                 不要在后面补 0（例如填 52，而不是 520000）。",
                level.name_zh()
            ),
            RegionError::Unknown { code } => {
                format!("地区代码“{code}”不在贵州省行政区划表中，请核对。")
            }
            RegionError::BadEncodedLength { len } => {
                format!("地区代码编码的长度字节是 {len}：只能是 2、4、6、9 或 12。")
            }
            RegionError::BadEncodedValue { len, value } => {
                format!("地区代码编码的数值 {value} 超过了长度字节规定的 {len} 位数字。")
            }
        }
    }
}

/// A statistical division code: 2 digits province, 4 city, 6 county, 9 township, 12 village.
///
/// Stored compactly as the code's value padded with zeros to 12 digits plus its length, which
/// makes the derived `Ord` the string order of the digit strings (see the module docs).
/// Displays, parses and serializes as its digit string, e.g. `"520102"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode {
    /// The digits followed by zeros up to 12 digits: `5201` is stored as `520100000000`.
    padded: u64,
    /// Number of digits: 2, 4, 6, 9 or 12.
    len: u8,
}

impl RegionCode {
    /// Guizhou province, `52`.
    pub const GUIZHOU: RegionCode = RegionCode {
        padded: GUIZHOU_PREFIX * POW10[MAX_DIGITS - 2],
        len: 2,
    };

    /// Builds a code from digits already checked against every rule.
    fn new_unchecked(value: u64, level: Level) -> RegionCode {
        let len = level.code_len();
        RegionCode {
            padded: value * POW10[MAX_DIGITS - len],
            len: len as u8,
        }
    }

    /// Checks the rules shared by [`parse`](Self::parse), [`from_parts`](Self::from_parts) and
    /// [`from_bytes`](Self::from_bytes), given a value already known to fit in the level's
    /// digits. `input` renders the code for error messages.
    fn check_segments(
        value: u64,
        level: Level,
        input: impl Fn() -> String,
    ) -> Result<RegionCode, RegionError> {
        let len = level.code_len();
        if !is_province_prefix(value / POW10[len - 2]) {
            return Err(RegionError::BadProvince { input: input() });
        }
        let mut segment_start = Level::Province.code_len();
        for segment_level in Level::ALL[1..=usize::from(level.depth())].iter().copied() {
            let segment_end = segment_level.code_len();
            let segment = (value / POW10[len - segment_end]) % POW10[segment_end - segment_start];
            if segment == 0 {
                return Err(RegionError::ZeroSegment {
                    input: input(),
                    level: segment_level,
                });
            }
            segment_start = segment_end;
        }
        Ok(RegionCode::new_unchecked(value, level))
    }

    /// Parses a code by syntax only: after trimming whitespace it must be 2, 4, 6, 9 or 12 ASCII
    /// digits, start with a provincial code (11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81,
    /// 82) and have no all-zero segment. It need not exist; see [`parse_known`](Self::parse_known).
    pub fn parse(s: &str) -> Result<RegionCode, RegionError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(RegionError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::NotDigits {
                input: s.to_string(),
            });
        }
        let Some(level) = Level::from_code_len(s.len()) else {
            return Err(RegionError::BadLength {
                input: s.to_string(),
                len: s.len(),
            });
        };
        let value = s
            .bytes()
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
        RegionCode::check_segments(value, level, || s.to_string())
    }

    /// Parses like [`parse`](Self::parse) and, for codes in Guizhou (starting with `52`), also
    /// requires the code to be in the bundled division table. Codes of other provinces are
    /// checked for syntax only.
    pub fn parse_known(s: &str) -> Result<RegionCode, RegionError> {
        let code = RegionCode::parse(s)?;
        if code.province_prefix() == GUIZHOU_PREFIX && divisions().get(&code).is_none() {
            return Err(RegionError::Unknown { code });
        }
        Ok(code)
    }

    /// The two-digit province prefix as a number, e.g. 52.
    fn province_prefix(&self) -> u64 {
        self.padded / POW10[MAX_DIGITS - 2]
    }

    /// The level, from the number of digits.
    pub fn level(&self) -> Level {
        match self.len {
            2 => Level::Province,
            4 => Level::City,
            6 => Level::County,
            9 => Level::Township,
            _ => Level::Village,
        }
    }

    /// The code one level up (the code cut to the previous length), or `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        self.level()
            .above()
            .and_then(|level| self.ancestor_at(level))
    }

    /// This code cut to `level`'s length: itself at its own level, `None` if `level` is below
    /// this code's level.
    pub fn ancestor_at(&self, level: Level) -> Option<RegionCode> {
        let len = level.code_len();
        if len > usize::from(self.len) {
            return None;
        }
        let unit = POW10[MAX_DIGITS - len];
        Some(RegionCode {
            padded: self.padded - self.padded % unit,
            len: len as u8,
        })
    }

    /// True if `other` is this region or lies inside it, i.e. this code is a prefix of `other`.
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.ancestor_at(self.level()) == Some(*self)
    }

    /// True if `other` lies inside this region and is not this region itself.
    pub fn is_strict_ancestor_of(&self, other: &RegionCode) -> bool {
        self != other && self.contains(other)
    }

    /// The code's digits as a number, e.g. 520102 for `520102`. Together with
    /// [`level`](Self::level) this determines the code; see [`from_parts`](Self::from_parts).
    pub fn as_u64(&self) -> u64 {
        self.padded / POW10[MAX_DIGITS - usize::from(self.len)]
    }

    /// Rebuilds a code from [`as_u64`](Self::as_u64) and [`level`](Self::level). `None` if the
    /// value has more digits than the level allows or breaks a rule of
    /// [`parse`](Self::parse).
    pub fn from_parts(value: u64, level: Level) -> Option<RegionCode> {
        let len = level.code_len();
        if value >= POW10[len] {
            return None;
        }
        RegionCode::check_segments(value, level, String::new).ok()
    }

    /// The canonical 8-byte encoding used inside signed bytes: byte 0 is the number of digits,
    /// bytes 1..8 are [`as_u64`](Self::as_u64) as a 7-byte big-endian integer.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut out = self.as_u64().to_be_bytes();
        // The value is below 10^12 < 2^56, so the top byte is always zero: put the length there.
        out[0] = self.len;
        out
    }

    /// Decodes [`to_bytes`](Self::to_bytes), applying every rule of [`parse`](Self::parse).
    pub fn from_bytes(bytes: &[u8; 8]) -> Result<RegionCode, RegionError> {
        let len = bytes[0];
        let Some(level) = Level::from_code_len(usize::from(len)) else {
            return Err(RegionError::BadEncodedLength { len });
        };
        let mut value_bytes = *bytes;
        value_bytes[0] = 0;
        let value = u64::from_be_bytes(value_bytes);
        if value >= POW10[usize::from(len)] {
            return Err(RegionError::BadEncodedValue { len, value });
        }
        RegionCode::check_segments(value, level, || {
            format!("{value:0width$}", width = usize::from(len))
        })
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}",
            self.as_u64(),
            width = usize::from(self.len)
        )
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({self})")
    }
}

impl FromStr for RegionCode {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<RegionCode, RegionError> {
        RegionCode::parse(s)
    }
}

impl Serialize for RegionCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RegionCode, D::Error> {
        struct CodeVisitor;

        impl serde::de::Visitor<'_> for CodeVisitor {
            type Value = RegionCode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a region code string of 2, 4, 6, 9 or 12 digits")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RegionCode, E> {
                RegionCode::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor)
    }
}

/// One row of the division table.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Division {
    pub code: RegionCode,
    pub level: Level,
    /// The official name, e.g. 南明区.
    pub name: String,
    /// The parent as given in the table; `None` only for the province. The table's parents
    /// all equal `code.parent()` (checked by a test).
    pub parent: Option<RegionCode>,
}

/// The bundled table of Guizhou's divisions; get it with [`divisions`].
#[derive(Debug)]
pub struct DivisionTable {
    /// Rows in file order: every parent comes before its children.
    rows: Vec<Division>,
    /// Row index of each code.
    index: HashMap<RegionCode, usize>,
    /// `children[i]` lists the codes whose parent is `rows[i]`, in file order.
    children: Vec<Vec<RegionCode>>,
    /// Number of rows at each level, indexed by depth.
    counts: [usize; 5],
}

/// The bundled Guizhou division table, parsed on first use.
pub fn divisions() -> &'static DivisionTable {
    static TABLE: OnceLock<DivisionTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        DivisionTable::parse_csv(DIVISIONS_CSV)
            .unwrap_or_else(|e| panic!("bundled data/guizhou-divisions.csv is invalid: {e}"))
    })
}

impl DivisionTable {
    /// Parses the CSV form of the table (`code,level,name,parent`, no quoted fields). Checks
    /// that codes are valid and unique, that the level matches the code's length, and that
    /// every parent is an earlier row.
    fn parse_csv(text: &str) -> Result<DivisionTable, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim() == DIVISIONS_HEADER => {}
            other => {
                return Err(format!(
                    "line 1 is {:?}, expected the header {DIVISIONS_HEADER:?}",
                    other.map(|(_, line)| line)
                ));
            }
        }
        let mut table = DivisionTable {
            rows: Vec::new(),
            index: HashMap::new(),
            children: Vec::new(),
            counts: [0; 5],
        };
        for (i, line) in lines {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            if line.contains('"') {
                return Err(format!("line {line_no}: quoted fields are not supported"));
            }
            let fields: Vec<&str> = line.split(',').collect();
            let [code, level, name, parent] = fields[..] else {
                return Err(format!(
                    "line {line_no}: expected 4 fields, found {}",
                    fields.len()
                ));
            };
            let code = RegionCode::parse(code).map_err(|e| format!("line {line_no}: code: {e}"))?;
            let level = Level::parse(level)
                .ok_or_else(|| format!("line {line_no}: unknown level {level:?}"))?;
            if level != code.level() {
                return Err(format!(
                    "line {line_no}: code {code} has {} digits but the level column says {level}",
                    code.level().code_len()
                ));
            }
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("line {line_no}: name is empty"));
            }
            let parent = if parent.trim().is_empty() {
                None
            } else {
                Some(
                    RegionCode::parse(parent)
                        .map_err(|e| format!("line {line_no}: parent: {e}"))?,
                )
            };
            let row = table.rows.len();
            if table.index.insert(code, row).is_some() {
                return Err(format!("line {line_no}: code {code} appears twice"));
            }
            if let Some(parent) = parent {
                let Some(&parent_row) = table.index.get(&parent) else {
                    return Err(format!(
                        "line {line_no}: parent {parent} of {code} is not an earlier row"
                    ));
                };
                table.children[parent_row].push(code);
            } else if level != Level::Province {
                return Err(format!("line {line_no}: {level} {code} has no parent"));
            }
            table.rows.push(Division {
                code,
                level,
                name: name.to_string(),
                parent,
            });
            table.children.push(Vec::new());
            table.counts[usize::from(level.depth())] += 1;
        }
        Ok(table)
    }

    /// The row for `code`, if the table has it.
    pub fn get(&self, code: &RegionCode) -> Option<&Division> {
        self.index.get(code).map(|&i| &self.rows[i])
    }

    /// The official name of `code`, e.g. 南明区 for `520102`.
    pub fn name(&self, code: &RegionCode) -> Option<&str> {
        self.get(code).map(|d| d.name.as_str())
    }

    /// The official name of `code`, or its digits when the table does not have it.
    pub fn name_or_code(&self, code: &RegionCode) -> String {
        self.name(code)
            .map(str::to_string)
            .unwrap_or_else(|| code.to_string())
    }

    /// The divisions directly under `code`, in file order (sorted by code). Empty for a village
    /// or a code not in the table.
    pub fn children(&self, code: &RegionCode) -> &[RegionCode] {
        self.index
            .get(code)
            .map(|&i| self.children[i].as_slice())
            .unwrap_or(&[])
    }

    /// Number of divisions in the table (19,572).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if the table has no rows (never for the bundled table).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// All divisions in file order: every parent comes before its children.
    pub fn iter(&self) -> impl Iterator<Item = &Division> {
        self.rows.iter()
    }

    /// Number of divisions at `level`.
    pub fn count_at(&self, level: Level) -> usize {
        self.counts[usize::from(level.depth())]
    }

    /// The names of `code` and its ancestors from the province down, separated by spaces, e.g.
    /// "贵州省 贵阳市 南明区" for `520102`. Levels missing from the table are skipped, and if
    /// `code` itself is missing its digits end the string instead (e.g. "贵州省 贵阳市 520199").
    pub fn full_name(&self, code: &RegionCode) -> String {
        let mut parts: Vec<String> = Level::ALL[..usize::from(code.level().depth())]
            .iter()
            .filter_map(|&level| code.ancestor_at(level))
            .filter_map(|ancestor| self.name(&ancestor).map(str::to_string))
            .collect();
        parts.push(self.name_or_code(code));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn table_counts_are_1_9_88_1510_17964() {
        let t = divisions();
        assert_eq!(t.count_at(Level::Province), 1);
        assert_eq!(t.count_at(Level::City), 9);
        assert_eq!(t.count_at(Level::County), 88);
        assert_eq!(t.count_at(Level::Township), 1510);
        assert_eq!(t.count_at(Level::Village), 17964);
        assert_eq!(t.len(), 19_572);
        assert!(!t.is_empty());
        for level in Level::ALL {
            assert_eq!(
                t.iter().filter(|d| d.level == level).count(),
                t.count_at(level)
            );
        }
    }

    #[test]
    fn every_parent_exists_and_is_the_code_cut_to_the_previous_level() {
        let t = divisions();
        for d in t.iter() {
            assert_eq!(d.level, d.code.level(), "{}", d.code);
            assert_eq!(d.parent, d.code.parent(), "parent of {}", d.code);
            if let Some(parent) = d.parent {
                let p = t.get(&parent).expect("parent exists");
                assert_eq!(p.level.below(), Some(d.level));
                assert!(t.children(&parent).contains(&d.code));
            } else {
                assert_eq!(d.code, RegionCode::GUIZHOU);
            }
        }
        let child_links: usize = t.iter().map(|d| t.children(&d.code).len()).sum();
        assert_eq!(child_links, t.len() - 1);
    }

    #[test]
    fn iteration_puts_parents_before_children() {
        let mut seen = std::collections::HashSet::new();
        for d in divisions().iter() {
            if let Some(parent) = d.parent {
                assert!(seen.contains(&parent), "{} before its parent", d.code);
            }
            seen.insert(d.code);
        }
    }

    #[test]
    fn names_children_and_full_names_come_from_the_table() {
        let t = divisions();
        assert_eq!(t.name(&RegionCode::GUIZHOU), Some("贵州省"));
        assert_eq!(t.name(&code("520102")), Some("南明区"));
        let cities = t.children(&RegionCode::GUIZHOU);
        assert_eq!(cities.len(), 9);
        assert_eq!(cities[0], code("5201"));
        assert_eq!(cities[8], code("5227"));
        assert_eq!(t.children(&code("520102016001")), &[] as &[RegionCode]);
        assert_eq!(t.children(&code("1101")), &[] as &[RegionCode]);
        assert_eq!(t.full_name(&code("520102")), "贵州省 贵阳市 南明区");
        assert_eq!(
            t.full_name(&code("520102016001")),
            "贵州省 贵阳市 南明区 新华路街道 纪念塔社区"
        );
        assert_eq!(t.full_name(&code("520199")), "贵州省 贵阳市 520199");
        assert_eq!(t.full_name(&code("110101")), "110101");
        assert_eq!(
            t.get(&code("522732116")).map(|d| d.parent),
            Some(Some(code("522732")))
        );
    }

    #[test]
    fn parse_accepts_valid_codes_and_trims_whitespace() {
        let c = code("  520102\n");
        assert_eq!(c.to_string(), "520102");
        assert_eq!(c.level(), Level::County);
        assert_eq!(c.as_u64(), 520_102);
        assert_eq!("5201".parse::<RegionCode>(), Ok(code("5201")));
        assert_eq!(code("11").level(), Level::Province);
        assert_eq!(code("820101001001").level(), Level::Village);
        assert_eq!(code("520102016001").to_string(), "520102016001");
    }

    #[test]
    fn parse_rejects_bad_input_with_the_right_error() {
        let cases: &[(&str, RegionError)] = &[
            ("", RegionError::Empty),
            ("   ", RegionError::Empty),
            (
                "52a1",
                RegionError::NotDigits {
                    input: "52a1".into(),
                },
            ),
            (
                "-5201",
                RegionError::NotDigits {
                    input: "-5201".into(),
                },
            ),
            (
                "５２",
                RegionError::NotDigits {
                    input: "５２".into(),
                },
            ),
            (
                "52 01",
                RegionError::NotDigits {
                    input: "52 01".into(),
                },
            ),
            (
                "5",
                RegionError::BadLength {
                    input: "5".into(),
                    len: 1,
                },
            ),
            (
                "520",
                RegionError::BadLength {
                    input: "520".into(),
                    len: 3,
                },
            ),
            (
                "5201020",
                RegionError::BadLength {
                    input: "5201020".into(),
                    len: 7,
                },
            ),
            (
                "5201020160011",
                RegionError::BadLength {
                    input: "5201020160011".into(),
                    len: 13,
                },
            ),
            ("00", RegionError::BadProvince { input: "00".into() }),
            ("10", RegionError::BadProvince { input: "10".into() }),
            ("16", RegionError::BadProvince { input: "16".into() }),
            ("83", RegionError::BadProvince { input: "83".into() }),
            ("99", RegionError::BadProvince { input: "99".into() }),
            (
                "990102",
                RegionError::BadProvince {
                    input: "990102".into(),
                },
            ),
            (
                "5200",
                RegionError::ZeroSegment {
                    input: "5200".into(),
                    level: Level::City,
                },
            ),
            (
                "520000",
                RegionError::ZeroSegment {
                    input: "520000".into(),
                    level: Level::City,
                },
            ),
            (
                "520100",
                RegionError::ZeroSegment {
                    input: "520100".into(),
                    level: Level::County,
                },
            ),
            (
                "520102000",
                RegionError::ZeroSegment {
                    input: "520102000".into(),
                    level: Level::Township,
                },
            ),
            (
                "520102016000",
                RegionError::ZeroSegment {
                    input: "520102016000".into(),
                    level: Level::Village,
                },
            ),
            (
                "520000000000",
                RegionError::ZeroSegment {
                    input: "520000000000".into(),
                    level: Level::City,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                RegionCode::parse(input).as_ref(),
                Err(expected),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parse_known_requires_guizhou_codes_to_be_in_the_table() {
        assert_eq!(RegionCode::parse_known("520102"), Ok(code("520102")));
        assert_eq!(
            RegionCode::parse_known("520199"),
            Err(RegionError::Unknown {
                code: code("520199")
            })
        );
        assert_eq!(
            RegionCode::parse_known("520102016999"),
            Err(RegionError::Unknown {
                code: code("520102016999")
            })
        );
        // Other provinces are checked for syntax only.
        assert_eq!(RegionCode::parse_known("110101"), Ok(code("110101")));
        assert_eq!(
            RegionCode::parse_known("5200"),
            Err(RegionError::ZeroSegment {
                input: "5200".into(),
                level: Level::City
            })
        );
    }

    #[test]
    fn every_error_has_a_kebab_case_code_and_messages_in_english_and_chinese() {
        let errors = [
            RegionError::Empty,
            RegionError::NotDigits { input: "x".into() },
            RegionError::BadLength {
                input: "5".into(),
                len: 1,
            },
            RegionError::BadProvince { input: "99".into() },
            RegionError::ZeroSegment {
                input: "5200".into(),
                level: Level::City,
            },
            RegionError::Unknown {
                code: code("520199"),
            },
            RegionError::BadEncodedLength { len: 3 },
            RegionError::BadEncodedValue { len: 2, value: 100 },
        ];
        let mut codes = std::collections::HashSet::new();
        for e in &errors {
            let c = e.code();
            assert!(c.starts_with("region-"), "{c}");
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{c}"
            );
            assert!(codes.insert(c), "duplicate code {c}");
            assert!(e.to_string().contains("region code"), "{e}");
            assert!(e.message_zh().contains("地区代码"), "{}", e.message_zh());
        }
        assert_eq!(
            RegionError::Unknown {
                code: code("520199")
            }
            .to_string(),
            "region code 520199 is not in the bundled Guizhou division table"
        );
    }

    #[test]
    fn level_names_lengths_and_neighbours_agree() {
        for (i, level) in Level::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(level.depth()), i);
            assert_eq!(Level::from_code_len(level.code_len()), Some(level));
            assert_eq!(Level::parse(level.as_str()), Some(level));
            assert_eq!(Level::parse(&level.as_str().to_uppercase()), Some(level));
            assert_eq!(Level::parse(level.name_zh()), Some(level));
            assert_eq!(level.to_string(), level.as_str());
            assert_eq!(
                serde_json::to_string(&level).unwrap(),
                format!("\"{}\"", level.as_str())
            );
            assert_eq!(
                level.below().and_then(Level::above),
                Some(level).filter(|l| *l != Level::Village)
            );
        }
        assert_eq!(Level::Province.below(), Some(Level::City));
        assert_eq!(Level::Village.below(), None);
        assert_eq!(Level::Province.above(), None);
        assert_eq!(Level::parse("hamlet"), None);
        assert_eq!(Level::from_code_len(3), None);
        assert_eq!(Level::ALL.map(Level::code_len), [2, 4, 6, 9, 12]);
        assert_eq!(
            Level::ALL.map(Level::name_zh),
            ["省", "市", "县", "乡镇", "村"]
        );
    }

    #[test]
    fn ancestors_parents_and_containment_follow_prefixes() {
        let village = code("520102016001");
        assert_eq!(
            village.ancestor_at(Level::Province),
            Some(RegionCode::GUIZHOU)
        );
        assert_eq!(village.ancestor_at(Level::City), Some(code("5201")));
        assert_eq!(village.ancestor_at(Level::County), Some(code("520102")));
        assert_eq!(
            village.ancestor_at(Level::Township),
            Some(code("520102016"))
        );
        assert_eq!(village.ancestor_at(Level::Village), Some(village));
        assert_eq!(code("5201").ancestor_at(Level::County), None);
        assert_eq!(village.parent(), Some(code("520102016")));
        assert_eq!(RegionCode::GUIZHOU.parent(), None);

        assert!(RegionCode::GUIZHOU.contains(&village));
        assert!(village.contains(&village));
        assert!(!village.contains(&RegionCode::GUIZHOU));
        assert!(!code("5202").contains(&village));
        assert!(!code("11").contains(&village));
        assert!(RegionCode::GUIZHOU.is_strict_ancestor_of(&village));
        assert!(!village.is_strict_ancestor_of(&village));
        assert!(!village.is_strict_ancestor_of(&RegionCode::GUIZHOU));
    }

    #[test]
    fn containment_is_a_partial_order_matching_string_prefixes() {
        let sample: Vec<RegionCode> = divisions()
            .iter()
            .step_by(97)
            .map(|d| d.code)
            .chain(["52", "5201", "520102", "5202", "11", "1101"].map(code))
            .collect();
        for a in &sample {
            assert!(a.contains(a));
            for b in &sample {
                let prefix = b.to_string().starts_with(&a.to_string());
                assert_eq!(a.contains(b), prefix, "{a} contains {b}");
                assert_eq!(a.is_strict_ancestor_of(b), prefix && a != b);
                if a.contains(b) && b.contains(a) {
                    assert_eq!(a, b);
                }
                for c in &sample {
                    if a.contains(b) && b.contains(c) {
                        assert!(a.contains(c));
                    }
                }
            }
        }
    }

    #[test]
    fn ord_is_string_order_so_descendants_are_contiguous() {
        let mut codes: Vec<RegionCode> = divisions().iter().map(|d| d.code).collect();
        codes.push(code("11"));
        codes.push(code("820101001001"));
        let mut strings: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        codes.sort();
        strings.sort();
        assert_eq!(
            codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            strings
        );
        let county = code("520102");
        let first = codes.iter().position(|c| county.contains(c)).unwrap();
        let count = codes.iter().filter(|c| county.contains(c)).count();
        assert_eq!(codes[first], county);
        assert!(
            codes[first..first + count]
                .iter()
                .all(|c| county.contains(c))
        );
    }

    #[test]
    fn canonical_bytes_round_trip_for_every_code_in_the_table() {
        for d in divisions().iter() {
            let bytes = d.code.to_bytes();
            assert_eq!(usize::from(bytes[0]), d.level.code_len());
            assert_eq!(RegionCode::from_bytes(&bytes), Ok(d.code));
            assert_eq!(
                RegionCode::from_parts(d.code.as_u64(), d.code.level()),
                Some(d.code)
            );
            assert_eq!(RegionCode::parse(&d.code.to_string()), Ok(d.code));
        }
    }

    #[test]
    fn canonical_bytes_have_the_documented_layout() {
        assert_eq!(code("520102").to_bytes(), [6, 0, 0, 0, 0, 0x07, 0xEF, 0xA6]);
        assert_eq!(RegionCode::GUIZHOU.to_bytes(), [2, 0, 0, 0, 0, 0, 0, 52]);
        let village = code("520102016001");
        let mut expected = [0u8; 8];
        expected[1..].copy_from_slice(&520_102_016_001u64.to_be_bytes()[1..]);
        expected[0] = 12;
        assert_eq!(village.to_bytes(), expected);
    }

    #[test]
    fn from_bytes_and_from_parts_reject_what_parse_rejects() {
        assert_eq!(
            RegionCode::from_bytes(&[3, 0, 0, 0, 0, 0, 2, 8]),
            Err(RegionError::BadEncodedLength { len: 3 })
        );
        assert_eq!(
            RegionCode::from_bytes(&[2, 0, 0, 0, 0, 0, 0x01, 0x00]),
            Err(RegionError::BadEncodedValue { len: 2, value: 256 })
        );
        assert_eq!(
            RegionCode::from_bytes(&[2, 0, 0, 0, 0, 0, 0, 9]),
            Err(RegionError::BadProvince { input: "09".into() })
        );
        let padded = 520_000u64.to_be_bytes();
        let mut bytes = padded;
        bytes[0] = 6;
        assert_eq!(
            RegionCode::from_bytes(&bytes),
            Err(RegionError::ZeroSegment {
                input: "520000".into(),
                level: Level::City
            })
        );
        assert_eq!(
            RegionCode::from_parts(52, Level::Province),
            Some(RegionCode::GUIZHOU)
        );
        assert_eq!(RegionCode::from_parts(5201, Level::County), None);
        assert_eq!(RegionCode::from_parts(520_102, Level::City), None);
        assert_eq!(RegionCode::from_parts(99, Level::Province), None);
        assert_eq!(RegionCode::from_parts(5200, Level::City), None);
    }

    #[test]
    fn serde_uses_the_digit_string_and_validates_it() {
        let c = code("520102");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"520102\"");
        assert_eq!(serde_json::from_str::<RegionCode>("\"520102\"").unwrap(), c);
        assert!(serde_json::from_str::<RegionCode>("\"520000\"").is_err());
        assert!(serde_json::from_str::<RegionCode>("\"5x\"").is_err());
        assert!(serde_json::from_str::<RegionCode>("520102").is_err());
        let bytes = postcard::to_allocvec(&c).unwrap();
        assert_eq!(postcard::from_bytes::<RegionCode>(&bytes).unwrap(), c);
        let d = divisions().get(&c).unwrap().clone();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Division>(&json).unwrap(), d);
        assert_eq!(format!("{c:?}"), "RegionCode(520102)");
    }

    #[test]
    fn malformed_tables_are_rejected() {
        let ok = "code,level,name,parent\r\n52,province,贵州省,\r\n5201,city,贵阳市,52\r\n";
        assert_eq!(DivisionTable::parse_csv(ok).unwrap().len(), 2);
        for bad in [
            "code,name\n",
            "code,level,name,parent\n5201,city,贵阳市,52\n",
            "code,level,name,parent\n52,city,贵州省,\n",
            "code,level,name,parent\n52,province,贵州省,\n52,province,贵州省,\n",
            "code,level,name,parent\n52,province,贵州省,\n5201,city,\"贵阳市\",52\n",
            "code,level,name,parent\n52,province,贵州省\n",
            "code,level,name,parent\n52,province,,\n",
        ] {
            assert!(DivisionTable::parse_csv(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn every_table_code_is_inside_its_ancestors_and_its_parent_chain_ends_at_52(
            index in any::<prop::sample::Index>()
        ) {
            let t = divisions();
            let d = t.iter().nth(index.index(t.len())).unwrap();
            let code = d.code;
            for level in Level::ALL {
                let ancestor = code.ancestor_at(level);
                if level <= code.level() {
                    let ancestor = ancestor.unwrap();
                    prop_assert_eq!(ancestor.level(), level);
                    prop_assert!(ancestor.contains(&code));
                    prop_assert!(t.get(&ancestor).is_some());
                    prop_assert_eq!(ancestor.is_strict_ancestor_of(&code), level < code.level());
                } else {
                    prop_assert_eq!(ancestor, None);
                }
            }
            let mut steps = 0;
            let mut current = code;
            while let Some(parent) = current.parent() {
                prop_assert!(parent.is_strict_ancestor_of(&current));
                prop_assert_eq!(Some(parent), t.get(&current).unwrap().parent);
                current = parent;
                steps += 1;
            }
            prop_assert_eq!(current.to_string(), "52");
            prop_assert_eq!(steps, code.level().depth());
        }

        #[test]
        fn parse_never_panics_and_accepts_only_what_displays_back(s in "\\PC{0,14}|[0-9]{1,13}") {
            if let Ok(c) = RegionCode::parse(&s) {
                prop_assert_eq!(c.to_string(), s.trim());
                prop_assert_eq!(RegionCode::from_bytes(&c.to_bytes()), Ok(c));
            }
        }

        #[test]
        fn from_bytes_never_panics_and_round_trips_what_it_accepts(bytes in any::<[u8; 8]>()) {
            if let Ok(c) = RegionCode::from_bytes(&bytes) {
                prop_assert_eq!(c.to_bytes(), bytes);
            }
        }
    }
}
