//! Occupation codes ([`OccupationCode`]) and the bundled 2022 national occupation
//! classification with everyday aliases.
//!
//! Gig postings and worker profiles name the kind of work with a code from the Occupation
//! Classification of the PRC (2022), written `d-dd-dd-dd`: major group, medium group, small
//! category, occupation. For example `4-10-01-06` is 家政服务员, which people also call 钟点工,
//! 月嫂 or 保姆. A group's code ends in `-00` segments, and a code lies within a group when it
//! starts with the group's non-zero segments: `4-10-00-00` (居民服务人员) contains
//! `4-10-01-06` (see [`OccupationTable::is_within`]).
//!
//! The table (`data/occupations-2022.csv`, see `data/README.md` for its source, licence and
//! quirks) is compiled in and parsed once, on first use of [`occupations`]. While loading it:
//!
//! - rows that repeat a code are merged into one entry (the file's 2,051 rows hold 2,047
//!   distinct codes): the first row's position is kept, the names must agree, the highest level
//!   wins and the alias lists are combined;
//! - aliases are trimmed, and empty aliases and aliases repeating the name or another alias are
//!   dropped.
//!
//! Some names and aliases belong to more than one code (for example 甘油制造工), so
//! [`OccupationTable::resolve`] reports them as ambiguous rather than guessing.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize};

/// The bundled occupation table, embedded at compile time.
const OCCUPATIONS_CSV: &str = include_str!("../data/occupations-2022.csv");

/// The header line `data/occupations-2022.csv` must start with.
const OCCUPATIONS_HEADER: &str = "code,level,name,aliases";

/// True if `s` has the shape `d-dd-dd-dd` (ASCII digits).
fn is_code_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, &c)| match i {
            1 | 4 | 7 => c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// Why an occupation code, name or alias was rejected.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum OccupationError {
    /// The input was empty or only whitespace.
    #[error(
        "occupation is empty; give an occupation code such as 4-10-01-06 or a name such as 家政服务员"
    )]
    Empty,
    /// The input is not of the form `d-dd-dd-dd`.
    #[error("occupation code {input:?} is not of the form d-dd-dd-dd (for example 4-10-01-06)")]
    BadSyntax { input: String },
    /// The code is well formed but not in the classification.
    #[error("occupation code {code} is not in the 2022 national occupation classification")]
    Unknown { code: String },
    /// The input is neither a code nor a known occupation name or alias.
    #[error(
        "occupation {input:?} is neither an occupation code nor a known occupation name or alias"
    )]
    NotFound { input: String },
    /// The name or alias belongs to more than one occupation; `candidates` are their codes.
    #[error(
        "occupation name {input:?} matches {} occupations ({}); give the occupation code instead",
        candidates.len(),
        describe_candidates(candidates, ", ")
    )]
    Ambiguous {
        input: String,
        candidates: Vec<String>,
    },
}

/// Lists candidate codes with their names, e.g. "4-04-03-00 信息通信网络运行管理人员".
fn describe_candidates(candidates: &[String], separator: &str) -> String {
    candidates
        .iter()
        .map(|code| match occupations().get(code) {
            Some(o) => format!("{code} {}", o.name),
            None => code.clone(),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

impl OccupationError {
    /// A stable machine-readable code for this error, such as `"occupation-unknown"`.
    pub fn code(&self) -> &'static str {
        match self {
            OccupationError::Empty => "occupation-empty",
            OccupationError::BadSyntax { .. } => "occupation-bad-syntax",
            OccupationError::Unknown { .. } => "occupation-unknown",
            OccupationError::NotFound { .. } => "occupation-not-found",
            OccupationError::Ambiguous { .. } => "occupation-ambiguous",
        }
    }

    /// The same message in plain Chinese, for a station clerk.
    pub fn message_zh(&self) -> String {
        match self {
            OccupationError::Empty => {
                "职业为空：请填写职业代码（例如 4-10-01-06）或职业名称（例如 家政服务员）。"
                    .to_string()
            }
            OccupationError::BadSyntax { input } => format!(
                "职业代码“{input}”格式不对：应为“1位数字-2位数字-2位数字-2位数字”，例如 4-10-01-06。"
            ),
            OccupationError::Unknown { code } => {
                format!("职业代码“{code}”不在 2022 年版国家职业分类大典中，请核对。")
            }
            OccupationError::NotFound { input } => {
                format!("“{input}”既不是职业代码，也不是已知的职业名称或常用叫法。")
            }
            OccupationError::Ambiguous { input, candidates } => format!(
                "“{input}”对应 {} 个职业：{}。请直接填写职业代码。",
                candidates.len(),
                describe_candidates(candidates, "；")
            ),
        }
    }
}

/// A code from the 2022 national occupation classification, in `d-dd-dd-dd` form such as
/// `4-10-01-06`. Only [`parse`](Self::parse) and deserialization create one, and both require
/// the code to be in the bundled table. Serializes as the plain string; deserializing applies
/// [`parse`](Self::parse).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(transparent)]
pub struct OccupationCode(String);

impl OccupationCode {
    /// Parses a code after trimming whitespace: it must have the form `d-dd-dd-dd` and exist in
    /// the bundled table. To accept names and aliases as well, use
    /// [`OccupationTable::resolve`].
    pub fn parse(s: &str) -> Result<OccupationCode, OccupationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(OccupationError::Empty);
        }
        if !is_code_syntax(s) {
            return Err(OccupationError::BadSyntax {
                input: s.to_string(),
            });
        }
        match occupations().get(s) {
            Some(o) => Ok(o.code.clone()),
            None => Err(OccupationError::Unknown {
                code: s.to_string(),
            }),
        }
    }

    /// The code as text, e.g. `"4-10-01-06"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code's leading segments up to its last non-zero one: `"4-10"` for `4-10-00-00`,
    /// `"4-10-01-06"` for itself.
    fn significant_prefix(&self) -> &str {
        let mut s = self.0.as_str();
        while s.len() > 1 {
            match s.strip_suffix("-00") {
                Some(shorter) => s = shorter,
                None => break,
            }
        }
        s
    }
}

impl fmt::Display for OccupationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OccupationCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OccupationCode, D::Error> {
        let s = String::deserialize(deserializer)?;
        OccupationCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One entry of the occupation table.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Occupation {
    pub code: OccupationCode,
    /// 1 major group (大类), 2 medium group (中类), 3 small category (小类), 4 occupation (职业).
    pub level: u8,
    /// The official name, e.g. 家政服务员.
    pub name: String,
    /// Everyday names, e.g. 钟点工 and 月嫂; trimmed, without the official name, no repeats.
    /// The name as the classification prints it, with its mark (保洁员L), is one of them.
    pub aliases: Vec<String>,
    /// Marked L in the classification: a green occupation (绿色职业).
    pub green: bool,
    /// Marked S in the classification: a digital occupation (数字职业).
    pub digital: bool,
}

/// An official name without the classification's mark of a green (L), digital (S) or green
/// and digital (L/S) occupation, which the 2022 edition prints after the name (保洁员L), and
/// the two marks.
fn unmarked(name: &str) -> (&str, bool, bool) {
    for (mark, green, digital) in [("L/S", true, true), ("L", true, false), ("S", false, true)] {
        if let Some(bare) = name.strip_suffix(mark).filter(|b| !b.is_empty()) {
            return (bare, green, digital);
        }
    }
    (name, false, false)
}

/// The bundled occupation table; get it with [`occupations`].
#[derive(Debug)]
pub struct OccupationTable {
    /// Entries in file order (first appearance of each code).
    rows: Vec<Occupation>,
    /// Row index of each code.
    by_code: HashMap<String, usize>,
    /// Row indices of each name and alias, in table order.
    by_name: HashMap<String, Vec<usize>>,
}

/// The bundled 2022 occupation table, parsed on first use.
pub fn occupations() -> &'static OccupationTable {
    static TABLE: OnceLock<OccupationTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        OccupationTable::parse_csv(OCCUPATIONS_CSV)
            .unwrap_or_else(|e| panic!("bundled data/occupations-2022.csv is invalid: {e}"))
    })
}

/// Splits one CSV line into fields. Fields may be quoted with `"`, and `""` inside quotes is a
/// literal quote. Fields spanning lines are not supported.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum State {
        /// At the start of a field.
        Start,
        /// Inside an unquoted field.
        Plain,
        /// Inside a quoted field.
        Quoted,
        /// Just after the closing quote of a quoted field.
        Closed,
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut state = State::Start;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        state = match (state, c) {
            (State::Quoted, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
                State::Quoted
            }
            (State::Quoted, '"') => State::Closed,
            (State::Quoted, c) => {
                field.push(c);
                State::Quoted
            }
            (_, ',') => {
                fields.push(std::mem::take(&mut field));
                State::Start
            }
            (State::Start, '"') => State::Quoted,
            (State::Closed, c) => return Err(format!("unexpected {c:?} after a closing quote")),
            (_, '"') => return Err("a quote inside an unquoted field".to_string()),
            (_, c) => {
                field.push(c);
                State::Plain
            }
        };
    }
    if state == State::Quoted {
        return Err("a quoted field is not closed".to_string());
    }
    fields.push(field);
    Ok(fields)
}

impl OccupationTable {
    /// Parses the CSV form of the table (`code,level,name,aliases`, aliases a quoted
    /// comma-separated list), merging repeated codes as described in the module docs.
    fn parse_csv(text: &str) -> Result<OccupationTable, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim() == OCCUPATIONS_HEADER => {}
            other => {
                return Err(format!(
                    "line 1 is {:?}, expected the header {OCCUPATIONS_HEADER:?}",
                    other.map(|(_, line)| line)
                ));
            }
        }
        let mut rows: Vec<Occupation> = Vec::new();
        let mut by_code: HashMap<String, usize> = HashMap::new();
        for (i, line) in lines {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields = split_csv_line(line).map_err(|e| format!("line {line_no}: {e}"))?;
            let [code, level, name, aliases] = &fields[..] else {
                return Err(format!(
                    "line {line_no}: expected 4 fields, found {}",
                    fields.len()
                ));
            };
            let code = code.trim();
            if !is_code_syntax(code) {
                return Err(format!("line {line_no}: code {code:?} is not d-dd-dd-dd"));
            }
            let level: u8 = match level.trim().parse() {
                Ok(level @ 1..=4) => level,
                _ => return Err(format!("line {line_no}: level {level:?} is not 1 to 4")),
            };
            let printed = name.trim();
            if printed.is_empty() {
                return Err(format!("line {line_no}: name is empty"));
            }
            let (name, green, digital) = unmarked(printed);
            let row = match by_code.get(code) {
                Some(&row) => {
                    let existing = &mut rows[row];
                    if existing.name != name {
                        return Err(format!(
                            "line {line_no}: code {code} repeats with name {name:?}, \
                             but an earlier row calls it {:?}",
                            existing.name
                        ));
                    }
                    existing.level = existing.level.max(level);
                    row
                }
                None => {
                    by_code.insert(code.to_string(), rows.len());
                    rows.push(Occupation {
                        code: OccupationCode(code.to_string()),
                        level,
                        name: name.to_string(),
                        aliases: Vec::new(),
                        green,
                        digital,
                    });
                    rows.len() - 1
                }
            };
            let entry = &mut rows[row];
            for alias in std::iter::once(printed).chain(aliases.split(',').map(str::trim)) {
                if !alias.is_empty()
                    && alias != entry.name
                    && !entry.aliases.iter().any(|a| a == alias)
                {
                    entry.aliases.push(alias.to_string());
                }
            }
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (row, o) in rows.iter().enumerate() {
            for key in std::iter::once(&o.name).chain(&o.aliases) {
                let list = by_name.entry(key.clone()).or_default();
                if list.last() != Some(&row) {
                    list.push(row);
                }
            }
        }
        Ok(OccupationTable {
            rows,
            by_code,
            by_name,
        })
    }

    /// The entry for `code` (surrounding whitespace ignored), if the table has it.
    pub fn get(&self, code: &str) -> Option<&Occupation> {
        self.by_code.get(code.trim()).map(|&i| &self.rows[i])
    }

    /// The entries whose official name or one of whose aliases is exactly `alias` (surrounding
    /// whitespace ignored), in table order. Usually one; empty if none.
    pub fn by_alias(&self, alias: &str) -> Vec<&Occupation> {
        self.by_name
            .get(alias.trim())
            .map(|rows| rows.iter().map(|&i| &self.rows[i]).collect())
            .unwrap_or_default()
    }

    /// Accepts a code (`4-10-01-06`) or a name or alias that belongs to exactly one entry
    /// (`钟点工`). Input made only of digits and dashes is treated as a code, so a mistyped code
    /// gives [`OccupationError::BadSyntax`] rather than [`OccupationError::NotFound`]. A name
    /// shared by several entries gives [`OccupationError::Ambiguous`] listing their codes.
    pub fn resolve(&self, code_or_alias: &str) -> Result<&Occupation, OccupationError> {
        let input = code_or_alias.trim();
        if input.is_empty() {
            return Err(OccupationError::Empty);
        }
        if input.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            if !is_code_syntax(input) {
                return Err(OccupationError::BadSyntax {
                    input: input.to_string(),
                });
            }
            return self.get(input).ok_or_else(|| OccupationError::Unknown {
                code: input.to_string(),
            });
        }
        match self.by_alias(input)[..] {
            [] => Err(OccupationError::NotFound {
                input: input.to_string(),
            }),
            [one] => Ok(one),
            ref many => Err(OccupationError::Ambiguous {
                input: input.to_string(),
                candidates: many.iter().map(|o| o.code.to_string()).collect(),
            }),
        }
    }

    /// Number of distinct codes (2,047).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if the table has no entries (never for the bundled table).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// All entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Occupation> {
        self.rows.iter()
    }

    /// True if `code` is `ancestor` or lies within it: `code` starts with `ancestor`'s segments
    /// up to its last non-zero one. `4-10-00-00` contains `4-10-01-06`; `4-10-01-06` contains
    /// only itself.
    pub fn is_within(&self, code: &OccupationCode, ancestor: &OccupationCode) -> bool {
        if code == ancestor {
            return true;
        }
        let prefix = ancestor.significant_prefix();
        code.as_str()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('-'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn occ(code: &str) -> OccupationCode {
        OccupationCode::parse(code).unwrap()
    }

    #[test]
    fn table_has_2047_distinct_codes_from_2051_rows() {
        let t = occupations();
        assert_eq!(OCCUPATIONS_CSV.lines().count() - 1, 2051);
        assert_eq!(t.len(), 2047);
        assert!(!t.is_empty());
        let per_level = |level| t.iter().filter(|o| o.level == level).count();
        assert_eq!(
            [per_level(1), per_level(2), per_level(3), per_level(4)],
            [8, 72, 335, 1632]
        );
        let mut codes: Vec<&str> = t.iter().map(|o| o.code.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), t.len());
    }

    #[test]
    fn repeated_codes_are_merged_keeping_the_highest_level() {
        let t = occupations();
        let soil = t.get("2-03-01-00").unwrap();
        assert_eq!(soil.name, "土壤肥料技术人员");
        assert_eq!(soil.level, 4);
        assert_eq!(t.get("5-03-00-00").unwrap().level, 2);
        assert_eq!(t.get("4-12-04-02").unwrap().name, "修鞋工");
        assert_eq!(t.get("6-20-05-03").unwrap().name, "压缩机装配调试工");
    }

    #[test]
    fn lookup_by_code_finds_the_official_name() {
        let t = occupations();
        let o = t.get("4-10-01-06").unwrap();
        assert_eq!(o.name, "家政服务员");
        assert_eq!(o.level, 4);
        assert_eq!(o.code.as_str(), "4-10-01-06");
        assert_eq!(t.get(" 4-10-01-06 ").map(|o| &o.name), Some(&o.name));
        assert!(t.get("9-99-99-99").is_none());
        assert_eq!(t.get("1-00-00-00").unwrap().level, 1);
        let code = occ(" 4-10-01-06\t");
        assert_eq!(code.to_string(), "4-10-01-06");
        assert_eq!(t.resolve("4-10-01-06").unwrap().code, code);
    }

    #[test]
    fn lookup_by_alias_or_name_resolves_everyday_words() {
        let t = occupations();
        for word in ["钟点工", "月嫂", "保姆", "家政", "家政服务员", " 钟点工 "] {
            let o = t.resolve(word).unwrap();
            assert_eq!(o.code.as_str(), "4-10-01-06", "{word}");
            assert_eq!(o.name, "家政服务员");
        }
        assert_eq!(t.by_alias("钟点工").len(), 1);
        assert!(t.by_alias("宇航厨师").is_empty());
        // Trailing spaces in the source aliases are trimmed.
        assert_eq!(t.resolve("FAE").unwrap().code.as_str(), "4-07-02-03");
        assert_eq!(t.resolve("DFT工程师").unwrap().code.as_str(), "2-02-29-05");
    }

    #[test]
    fn a_green_or_digital_mark_is_not_part_of_the_name_and_the_marked_name_still_resolves() {
        let t = occupations();
        let cleaner = t.get("4-09-08-01").unwrap();
        assert_eq!(cleaner.name, "保洁员");
        assert!(cleaner.green && !cleaner.digital);
        for word in ["保洁员", "保洁员L", "保洁"] {
            assert_eq!(t.resolve(word).unwrap().code, cleaner.code, "{word}");
        }
        let marks = |o: &Occupation| (o.green, o.digital);
        let counted = t.iter().fold([0; 3], |mut n, o| {
            n[0] += usize::from(marks(o) == (true, false));
            n[1] += usize::from(marks(o) == (false, true));
            n[2] += usize::from(marks(o) == (true, true));
            n
        });
        // The 2022 classification marks 111 occupations L, 72 S and 23 L/S (data/README.md).
        assert_eq!(counted, [111, 72, 23]);
        assert!(t.iter().all(|o| !o.name.ends_with(['L', 'S'])));
    }

    #[test]
    fn aliases_are_trimmed_nonempty_unique_and_differ_from_the_name() {
        for o in occupations().iter() {
            let mut seen = std::collections::HashSet::new();
            for a in &o.aliases {
                assert!(!a.is_empty() && a.trim() == a, "{} {a:?}", o.code);
                assert_ne!(a, &o.name, "{}", o.code);
                assert!(seen.insert(a), "{} repeats {a}", o.code);
            }
        }
        let home = occupations().get("4-10-01-06").unwrap();
        assert!(!home.aliases.contains(&"家政服务员".to_string()));
        assert!(home.aliases.contains(&"钟点工".to_string()));
    }

    #[test]
    fn shared_names_are_ambiguous_and_list_their_codes() {
        let t = occupations();
        let cases: [(&str, &[&str]); 3] = [
            ("信息通信网络运行管理人员", &["4-04-03-00", "4-04-04-00"]),
            ("甘油制造工", &["6-11-08-25", "6-11-08-26"]),
            ("编辑", &["2-10-02-00", "2-10-02-01"]),
        ];
        for (input, expected) in cases {
            let err = t.resolve(input).unwrap_err();
            assert_eq!(
                err,
                OccupationError::Ambiguous {
                    input: input.to_string(),
                    candidates: expected.iter().map(|c| c.to_string()).collect(),
                }
            );
            assert_eq!(t.by_alias(input).len(), expected.len());
            assert!(err.to_string().contains(expected[1]), "{err}");
            assert!(
                err.message_zh().contains(expected[0]),
                "{}",
                err.message_zh()
            );
        }
        let err = t.resolve("甘油制造工").unwrap_err();
        assert_eq!(
            err.to_string(),
            "occupation name \"甘油制造工\" matches 2 occupations (6-11-08-25 甘油制造工, \
             6-11-08-26 甘油制造工); give the occupation code instead"
        );
    }

    #[test]
    fn parse_and_resolve_reject_bad_input_with_the_right_error() {
        let t = occupations();
        assert_eq!(OccupationCode::parse(""), Err(OccupationError::Empty));
        assert_eq!(t.resolve("  "), Err(OccupationError::Empty));
        for bad in [
            "4-10-1-6",
            "41001 06",
            "4100106",
            "4-10-01-06-01",
            "a-10-01-06",
            "4_10_01_06",
            "钟点工",
        ] {
            assert_eq!(
                OccupationCode::parse(bad),
                Err(OccupationError::BadSyntax {
                    input: bad.to_string()
                }),
                "{bad}"
            );
        }
        assert_eq!(
            t.resolve("4-10-1-6"),
            Err(OccupationError::BadSyntax {
                input: "4-10-1-6".to_string()
            })
        );
        assert_eq!(
            OccupationCode::parse("9-99-99-99"),
            Err(OccupationError::Unknown {
                code: "9-99-99-99".to_string()
            })
        );
        assert_eq!(
            t.resolve("9-99-99-99"),
            Err(OccupationError::Unknown {
                code: "9-99-99-99".to_string()
            })
        );
        assert_eq!(
            t.resolve("宇航厨师"),
            Err(OccupationError::NotFound {
                input: "宇航厨师".to_string()
            })
        );
    }

    #[test]
    fn every_error_has_a_kebab_case_code_and_messages_in_english_and_chinese() {
        let errors = [
            OccupationError::Empty,
            OccupationError::BadSyntax { input: "x".into() },
            OccupationError::Unknown {
                code: "9-99-99-99".into(),
            },
            OccupationError::NotFound { input: "x".into() },
            OccupationError::Ambiguous {
                input: "甘油制造工".into(),
                candidates: vec!["6-11-08-25".into(), "6-11-08-26".into()],
            },
        ];
        let mut codes = std::collections::HashSet::new();
        for e in &errors {
            let c = e.code();
            assert!(c.starts_with("occupation-"), "{c}");
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{c}"
            );
            assert!(codes.insert(c), "duplicate code {c}");
            assert!(e.to_string().starts_with("occupation"), "{e}");
            assert!(e.message_zh().contains("职业"), "{}", e.message_zh());
        }
    }

    #[test]
    fn is_within_follows_the_non_zero_prefix() {
        let t = occupations();
        let home = occ("4-10-01-06");
        assert!(t.is_within(&home, &occ("4-10-00-00")));
        assert!(t.is_within(&home, &occ("4-00-00-00")));
        assert!(t.is_within(&home, &occ("4-10-01-00")));
        assert!(t.is_within(&home, &home));
        assert!(!t.is_within(&occ("4-10-00-00"), &home));
        assert!(!t.is_within(&home, &occ("4-10-01-05")));
        assert!(!t.is_within(&home, &occ("2-00-00-00")));
        assert!(!t.is_within(&occ("4-01-00-00"), &occ("4-10-00-00")));
        assert!(t.is_within(&occ("1-01-00-01"), &occ("1-01-00-00")));
        assert!(!t.is_within(&occ("1-01-00-00"), &occ("1-01-00-01")));
    }

    #[test]
    fn every_code_lies_within_its_major_and_medium_group() {
        let t = occupations();
        for o in t.iter() {
            let s = o.code.as_str();
            let major = occ(&format!("{}-00-00-00", &s[..1]));
            let medium = occ(&format!("{}-00-00", &s[..4]));
            assert!(t.is_within(&o.code, &major), "{s}");
            assert!(t.is_within(&o.code, &medium), "{s}");
            let group_levels = t.get(major.as_str()).map(|m| m.level);
            assert_eq!(group_levels, Some(1), "{s}");
        }
    }

    #[test]
    fn serde_is_the_plain_code_string_and_validates_it() {
        let code = occ("4-10-01-06");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"4-10-01-06\"");
        assert_eq!(
            serde_json::from_str::<OccupationCode>("\"4-10-01-06\"").unwrap(),
            code
        );
        assert!(serde_json::from_str::<OccupationCode>("\"9-99-99-99\"").is_err());
        assert!(serde_json::from_str::<OccupationCode>("\"钟点工\"").is_err());
        let bytes = postcard::to_allocvec(&code).unwrap();
        assert_eq!(
            postcard::from_bytes::<OccupationCode>(&bytes).unwrap(),
            code
        );
    }

    #[test]
    fn csv_lines_split_on_commas_outside_quotes() {
        assert_eq!(
            split_csv_line("a,\"b,c\",,\"d\"\"e\"").unwrap(),
            vec!["a", "b,c", "", "d\"e"]
        );
        assert!(split_csv_line("a,\"b").is_err());
        assert!(split_csv_line("a,\"b\"c").is_err());
        assert!(split_csv_line("a,b\"c").is_err());
        assert!(OccupationTable::parse_csv("code,name\n").is_err());
        assert!(OccupationTable::parse_csv("code,level,name,aliases\n1-00-00-00,5,x,\n").is_err());
        assert!(
            OccupationTable::parse_csv(
                "code,level,name,aliases\n1-00-00-00,1,x,\n1-00-00-00,1,y,\n"
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn any_table_code_resolves_to_itself_and_sits_inside_its_groups(
            index in any::<prop::sample::Index>()
        ) {
            let t = occupations();
            let o = t.iter().nth(index.index(t.len())).unwrap();
            prop_assert_eq!(&t.resolve(o.code.as_str()).unwrap().code, &o.code);
            prop_assert_eq!(&OccupationCode::parse(o.code.as_str()).unwrap(), &o.code);
            let by_name = t.by_alias(&o.name);
            prop_assert!(by_name.iter().any(|m| m.code == o.code));
            for alias in &o.aliases {
                prop_assert!(t.by_alias(alias).iter().any(|m| m.code == o.code));
            }
            for other in t.iter().filter(|other| t.is_within(&o.code, &other.code)) {
                prop_assert!(other.code <= o.code);
                prop_assert!(other.level <= o.level || other.code == o.code);
            }
        }

        #[test]
        fn resolve_never_panics(s in "\\PC{0,12}") {
            let _ = occupations().resolve(&s);
        }
    }
}
