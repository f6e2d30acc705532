//! One typed schema per document record kind: field names, types, validation, and how a typed
//! record becomes Automerge edits and is read back from a document's root view.
//!
//! The node's services, the demo, the benches and the simulator all write records through
//! these types, so a field is named and typed in exactly one place. Validation here is what a
//! record must satisfy on its own (lengths, enumerations, money rounded to the fen and within
//! its bounds); rules that need other records (the employer exists, the post is open) belong to
//! the node's services. The accept path never calls into this module: a change from another
//! node is judged by signature, log and jurisdiction only, so a later version's fields never
//! make an older node refuse a valid change.
//!
//! - [`post`]: job posts ([`Post`]), their units, statuses and review states;
//! - [`worker`]: flexible workers ([`Worker`]), priority flags;
//! - [`employer`]: employers ([`Employer`]), their types and verification;
//! - [`placement`]: placements ([`Placement`]): who was placed on which post, confirmations;
//! - [`complaint`]: complaints ([`Complaint`]), their status flow, deadlines and history;
//! - [`assistance`]: assistance records ([`Assistance`], 困难帮扶台账) and the yearly targets.

pub mod assistance;
pub mod complaint;
pub mod employer;
pub mod placement;
pub mod post;
pub mod report_seal;
pub mod supervision_order;
pub mod worker;

pub use assistance::{AssistKind, Assistance, PushResult};
pub use complaint::{Complaint, ComplaintKind, ComplaintStatus, Finding};
pub use employer::{Employer, EmployerStatus, EmployerType};
pub use placement::{Confirmation, Outcome, Placement, PlacementStatus};
pub use post::{Post, PostStatus, ReviewState, WageUnit};
pub use report_seal::{ChildSeal, ReportSeal};
pub use supervision_order::SupervisionOrder;
pub use worker::{Flag, Worker, WorkerStatus};

use crate::error::{Error, Result};
use crate::record::{FieldValue, RecordKind};
use serde_json::{Map, Value as Json};

/// A typed document record.
pub trait Schema: Sized {
    /// The record kind this schema describes.
    const KIND: RecordKind;

    /// Every field of the record as Automerge edits (what creating the record writes).
    fn edits(&self) -> Vec<(&'static str, FieldValue)>;

    /// Reads the record from its document's root view. Missing optional fields read as
    /// absent; a missing required field or a value of the wrong type is an error naming it.
    fn from_view(view: &Map<String, Json>) -> Result<Self>;

    /// Checks every field's own rule; the error names the field and the rule in both
    /// languages.
    fn validate(&self) -> Result<()>;

    /// The edits that turn `before` into `self`: only the fields whose value differs, so an
    /// update writes what changed and concurrent edits of other fields merge.
    fn edits_since(&self, before: &Self) -> Vec<(&'static str, FieldValue)> {
        let old = before.edits();
        self.edits()
            .into_iter()
            .filter(|(name, value)| !old.iter().any(|(n, v)| n == name && v == value))
            .collect()
    }
}

/// A closed set of values written as lower-case words (units, statuses, types).
pub trait Choice: Sized + Copy + 'static {
    /// Every value, in the order the help text lists them.
    const ALL: &'static [Self];
    /// The word written in records, flags and JSON.
    fn as_str(self) -> &'static str;
    /// The word a Chinese-speaking clerk reads.
    fn as_zh(self) -> &'static str;
    /// The words an English page shows (the console's English switch).
    fn as_en(self) -> &'static str;

    /// Parses the word (or its Chinese name), naming `field` and the allowed words on error.
    fn parse(field: &'static str, s: &str) -> Result<Self> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s || c.as_zh() == s)
            .ok_or_else(|| {
                let words: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
                let zh: Vec<&str> = Self::ALL.iter().map(|c| c.as_zh()).collect();
                Error::invalid(
                    field,
                    format!("must be one of {}", words.join(", ")),
                    format!("必须是 {} 之一（{}）", words.join("、"), zh.join("、")),
                )
            })
    }
}

/// Declares an enum of [`Choice`] words with their Chinese and English names:
/// `choice!(Name { Variant = ("word", "中文", "English"), … })`.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = ($word:literal, $zh:literal, $en:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }
        impl $crate::schema::Choice for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str { match self { $($name::$variant => $word),+ } }
            fn as_zh(self) -> &'static str { match self { $($name::$variant => $zh),+ } }
            fn as_en(self) -> &'static str { match self { $($name::$variant => $en),+ } }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str($crate::schema::Choice::as_str(*self))
            }
        }
    };
}
pub(crate) use choice;

/// Characters a single line of text may not hold: control characters (newlines included) and
/// the bidirectional overrides and isolates that make a title display other than it reads
/// (U+202A–U+202E, U+2066–U+2069).
fn forbidden_in_line(c: char) -> bool {
    c.is_control()
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A single line of text, trimmed, of `min..=max` characters.
pub fn line(field: &'static str, value: &str, min: usize, max: usize) -> Result<String> {
    checked_text(field, value, min, max, forbidden_in_line)
}

/// Free text of `min..=max` characters: newlines and tabs allowed, other control characters and
/// bidirectional overrides not.
pub fn paragraph(field: &'static str, value: &str, min: usize, max: usize) -> Result<String> {
    checked_text(field, value, min, max, |c| {
        c != '\n' && c != '\t' && forbidden_in_line(c)
    })
}

fn checked_text(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    forbidden: impl Fn(char) -> bool,
) -> Result<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(Error::invalid(
            field,
            format!("must be {min} to {max} characters"),
            format!("必须是 {min} 到 {max} 个字符"),
        ));
    }
    if v.chars().any(forbidden) {
        return Err(Error::invalid(
            field,
            "must not contain line breaks, control characters or direction overrides",
            "不能包含换行、控制字符或文字方向控制符",
        ));
    }
    Ok(v.to_string())
}

/// An amount of money in yuan, rounded to the fen, then checked to be more than zero (or at
/// least zero with `allow_zero`) and at most `max`: `1e-320` rounds to 0 and is refused.
pub fn money(field: &'static str, yuan: f64, allow_zero: bool, max: f64) -> Result<f64> {
    let fen = (yuan * 100.0).round();
    let ok = yuan.is_finite() && fen <= max * 100.0 && (fen > 0.0 || (allow_zero && fen == 0.0));
    if !ok {
        let low = if allow_zero {
            "at least 0"
        } else {
            "more than 0"
        };
        let low_zh = if allow_zero {
            "不小于 0"
        } else {
            "大于 0"
        };
        return Err(Error::invalid(
            field,
            format!("must be {low} and at most {max} yuan (rounded to the fen)"),
            format!("必须{low_zh}且不超过 {max} 元（按分计）"),
        ));
    }
    Ok(fen / 100.0)
}

/// A mainland phone number: an 11-digit mobile number starting 13–19, or a landline with its
/// area code (`0851-12345678`, 10 to 12 digits); service numbers like 12333 too.
pub fn phone(field: &'static str, value: &str) -> Result<String> {
    let v: String = value.trim().chars().filter(|c| *c != ' ').collect();
    let digits: String = v.chars().filter(|c| *c != '-').collect();
    let all_digits = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    let mobile = digits.len() == 11
        && digits.starts_with('1')
        && matches!(digits.as_bytes()[1], b'3'..=b'9');
    let landline = digits.starts_with('0') && (10..=12).contains(&digits.len());
    let service = digits.starts_with("12") && digits.len() == 5;
    if all_digits && (mobile || landline || service) && v.matches('-').count() <= 1 {
        Ok(v)
    } else {
        Err(Error::invalid(
            field,
            "must be an 11-digit mobile number (1[3-9]…), a landline with its area code (0851-…) or a 5-digit service number (12333)",
            "必须是 11 位手机号（1[3-9] 开头）、带区号的座机号（如 0851-…）或 5 位服务号码（如 12333）",
        ))
    }
}

/// A record reference: the 32 hex digits of a record's short id.
pub fn record_ref(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim().to_ascii_lowercase();
    if v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(v)
    } else {
        Err(Error::invalid(
            field,
            "must be a record id of 32 hex digits",
            "必须是 32 位十六进制的记录编号",
        ))
    }
}

/// A list of words, each trimmed, empty ones dropped, repeats removed (first kept).
pub fn distinct(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let item = item.trim().to_string();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Reading a document view, with errors that name the field.
pub(crate) struct View<'a>(pub &'a Map<String, Json>);

impl View<'_> {
    fn missing(field: &'static str) -> Error {
        Error::invalid(field, "is missing from the record", "记录中缺少此字段")
    }
    pub fn text(&self, field: &'static str) -> Result<String> {
        self.opt_text(field)?.ok_or_else(|| Self::missing(field))
    }
    pub fn opt_text(&self, field: &'static str) -> Result<Option<String>> {
        match self.0.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid(field, "must be text", "必须是文字")),
        }
    }
    pub fn number(&self, field: &'static str) -> Result<f64> {
        self.opt_number(field)?.ok_or_else(|| Self::missing(field))
    }
    pub fn opt_number(&self, field: &'static str) -> Result<Option<f64>> {
        match self.0.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(Error::invalid(field, "must be a number", "必须是数字")),
        }
    }
    pub fn int(&self, field: &'static str) -> Result<i64> {
        let n = self.number(field)?;
        if n.fract() == 0.0 {
            Ok(n as i64)
        } else {
            Err(Error::invalid(
                field,
                "must be a whole number",
                "必须是整数",
            ))
        }
    }
    pub fn list(&self, field: &'static str) -> Result<Vec<String>> {
        match self.0.get(field) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => Ok(items
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()),
            Some(_) => Err(Error::invalid(field, "must be a list", "必须是列表")),
        }
    }
    pub fn choice<C: Choice>(&self, field: &'static str) -> Result<C> {
        C::parse(field, &self.text(field)?)
    }
    pub fn opt_choice<C: Choice>(&self, field: &'static str) -> Result<Option<C>> {
        self.opt_text(field)?
            .map(|s| C::parse(field, &s))
            .transpose()
    }
}

/// Edits of optional text fields: present ones only.
pub(crate) fn push_opt(
    edits: &mut Vec<(&'static str, FieldValue)>,
    field: &'static str,
    value: &Option<String>,
) {
    if let Some(v) = value {
        edits.push((field, FieldValue::Text(v.clone())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_rounded_to_the_fen_before_it_is_checked() {
        assert!(money("wage", 1e-320, false, 100.0).is_err());
        assert!(money("wage", 0.004, false, 100.0).is_err());
        assert_eq!(money("wage", 0.005, false, 100.0).unwrap(), 0.01);
        assert_eq!(money("wage", 150.456, false, 1000.0).unwrap(), 150.46);
        assert!(money("wage", f64::NAN, true, 100.0).is_err());
        assert_eq!(money("wage_min", 0.0, true, 100.0).unwrap(), 0.0);
        assert!(money("wage", 100.01, false, 100.0).is_err());
    }

    #[test]
    fn a_line_refuses_newlines_and_direction_overrides() {
        assert!(line("title", "搬运工\n急招", 1, 60).is_err());
        assert!(line("title", "搬运工\u{202E}工运搬", 1, 60).is_err());
        assert_eq!(line("title", "  搬运工  ", 1, 60).unwrap(), "搬运工");
        assert!(paragraph("description", "第一行\n第二行", 0, 100).is_ok());
        assert!(paragraph("description", "x\u{202E}", 0, 100).is_err());
    }

    #[test]
    fn phones_are_mobiles_landlines_or_service_numbers() {
        for ok in [
            "13812345678",
            "0851-86812345",
            "085186812345",
            "12333",
            "138 1234 5678",
        ] {
            assert!(phone("phone", ok).is_ok(), "{ok}");
        }
        for bad in [
            "10000000000",
            "1381234567",
            "1234",
            "abc",
            "0851--1234567",
            "23812345678",
        ] {
            assert!(phone("phone", bad).is_err(), "{bad}");
        }
    }

    /// Every value's three names, distinct within its type: the pickers and labels of the web
    /// console show `as_zh` or `as_en`, and a clerk must be able to tell the options apart.
    fn names_of<C: Choice>() {
        for (i, a) in C::ALL.iter().enumerate() {
            assert!(
                !a.as_en().is_empty() && a.as_en().is_ascii(),
                "{}",
                a.as_str()
            );
            assert!(!a.as_zh().is_ascii(), "{}", a.as_str());
            for b in &C::ALL[i + 1..] {
                assert!(a.as_str() != b.as_str() && a.as_zh() != b.as_zh());
                assert!(a.as_en() != b.as_en(), "{} and {}", a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn every_choice_has_distinct_english_and_chinese_names() {
        names_of::<WageUnit>();
        names_of::<PostStatus>();
        names_of::<ReviewState>();
        names_of::<PlacementStatus>();
        names_of::<Confirmation>();
        names_of::<Outcome>();
        names_of::<EmployerType>();
        names_of::<EmployerStatus>();
        names_of::<AssistKind>();
        names_of::<PushResult>();
        names_of::<Flag>();
        names_of::<WorkerStatus>();
        names_of::<ComplaintKind>();
        names_of::<ComplaintStatus>();
        names_of::<Finding>();
    }

    #[test]
    fn distinct_drops_repeats_and_blanks() {
        let v = distinct(["older", " older", "", "disabled", "older"].map(String::from));
        assert_eq!(v, vec!["older", "disabled"]);
    }
}
