//! The flexible worker (灵活就业人员): fields, priority flags, document form.
//!
//! The clear ID number is not a field: the registering station keeps it in its private table;
//! the record carries the mask and the keyed hash ([`crate::id_number`]). Priority flags say who
//! is helped first (困难帮扶): older workers, disabled workers, and those who have waited long
//! (set by a clerk, or derived from the registration date and the placements by the node).
//!
//! Erasure (PIPL 删除权): the registering station writes [`erasure_edits`], which blank every
//! personal field and set the marker [`ERASED`]. The marker is final: once a document holds it,
//! [`Worker::from_view`] reads every personal field as empty and the status as deregistered,
//! whatever else the document holds, so a concurrent or later set of `name` by a station that
//! had not yet seen the erasure (Automerge keeps a concurrent set beside, or over, the blank)
//! never shows again; and the node's services refuse to edit an erased record
//! ([`erased_at`]). SECURITY.md §7.

use super::{Choice, Schema, View, choice, distinct, line, money, phone, push_opt};
use crate::error::{Error, Result};
use crate::occupation::occupations;
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use serde_json::{Map, Value as Json};

choice!(
    /// Why a worker is helped first.
    Flag {
        Older = ("older", "大龄", "older"),
        Disabled = ("disabled", "残疾", "disabled"),
        LongWait = ("long-wait", "长期失业", "long unemployed"),
    }
);

impl Flag {
    /// Weight in the priority sum: disability counts double.
    pub fn weight(self) -> i64 {
        match self {
            Flag::Disabled => 2,
            Flag::Older | Flag::LongWait => 1,
        }
    }
}

choice!(
    /// Registered (登记) or deregistered (注销).
    WorkerStatus {
        Active = ("active", "在册", "registered"),
        Deregistered = ("deregistered", "已注销", "deregistered"),
    }
);

/// The document key of the erasure marker: the RFC 3339 time of the erasure. Once present, the
/// record is erased for good (the module documentation).
pub const ERASED: &str = "erased";
/// The document key of the reason given for the erasure (e.g. 本人申请).
pub const ERASE_REASON: &str = "erase_reason";

choice!(
    /// Why a worker record is erased (`erase_reason`): the cases of 个人信息保护法 第四十七条.
    EraseReason {
        Request = ("request", "本人申请删除", "the worker asked for it"),
        ConsentWithdrawn = ("consent-withdrawn", "本人撤回同意", "the worker withdrew consent"),
        PurposeDone = ("purpose-done", "处理目的已实现", "the purpose is achieved or no longer needed"),
        RetentionOver = ("retention-over", "服务停止或保存期限届满", "the service stopped or the retention period ended"),
        Unlawful = ("unlawful", "违法或违约处理", "processed against the law or the agreement"),
        OtherLaw = ("other-law", "法律法规规定的其他情形", "another case the law provides for"),
    }
);

/// Most characters of the note an erasure's reason may carry after the reason itself.
pub const ERASE_NOTE_MAX: usize = 40;

/// Checks the reason given for an erasure and returns what the erasure carries (replicated to
/// every station that holds the record in full, so it must itself hold nothing personal): one
/// of [`EraseReason`] (its code or its Chinese words), optionally followed by `:` or `：` and
/// a note of at most [`ERASE_NOTE_MAX`] characters on one line, without digits (no phone, ID
/// number or date fits in it). Stored as the reason's Chinese words, then `：` and the note.
pub fn erase_reason(text: &str) -> Result<String> {
    let refused = || {
        let (mut en, mut zh) = (Vec::new(), Vec::new());
        for r in EraseReason::ALL {
            en.push(format!("{} ({})", r.as_str(), r.as_en()));
            zh.push(format!("{}（{}）", r.as_zh(), r.as_str()));
        }
        Error::invalid(
            "reason",
            format!(
                "must be one of: {}; optionally followed by ': ' and a note of at most \
                 {ERASE_NOTE_MAX} characters without digits (never the worker's name, phone or ID \
                 number: the reason travels with the record)",
                en.join(", ")
            ),
            format!(
                "必须是以下之一：{}；其后可加“：”和不超过 {ERASE_NOTE_MAX} 个字、不含数字的备注\
                 （不得写劳动者的姓名、电话或身份证号：删除原因随记录同步）",
                zh.join("、")
            ),
        )
    };
    let text = text.trim();
    let (head, note) = match text.find([':', '：']) {
        Some(i) => {
            let colon = text[i..].chars().next().map_or(1, char::len_utf8);
            (text[..i].trim(), Some(&text[i + colon..]))
        }
        None => (text, None),
    };
    let reason = EraseReason::ALL
        .iter()
        .find(|r| head == r.as_str() || head == r.as_zh())
        .ok_or_else(refused)?;
    let Some(note) = note else {
        return Ok(reason.as_zh().to_string());
    };
    let note = line("reason", note, 1, ERASE_NOTE_MAX).map_err(|_| refused())?;
    if note.chars().any(char::is_numeric) {
        return Err(refused());
    }
    Ok(format!("{}：{note}", reason.as_zh()))
}

/// The personal fields of a worker record: what an erasure blanks and what the read of an
/// erased record ignores.
pub const PERSONAL_FIELDS: &[&str] = &[
    "name",
    "id_masked",
    "id_hash",
    "phone",
    "skills",
    "wage_min",
    "flags",
    "available_from",
    "available_to",
];

/// When the record whose root view is `view` was erased, if it was.
pub fn erased_at(view: &Map<String, Json>) -> Option<String> {
    match view.get(ERASED) {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// The edits of an erasure at `at` (RFC 3339) for `reason`: the marker, the reason, the status
/// deregistered, and every personal field the record holds (`view`) overwritten with an empty
/// value of its type (text, list, or 0 for `wage_min`), so the document's current values hold
/// nothing personal even for a reader that does not know the marker.
pub fn erasure_edits(
    view: &Map<String, Json>,
    at: &str,
    reason: &str,
) -> Vec<(&'static str, FieldValue)> {
    let mut e = vec![
        (ERASED, FieldValue::Text(at.to_string())),
        (ERASE_REASON, FieldValue::Text(reason.to_string())),
        (
            "status",
            FieldValue::Text(WorkerStatus::Deregistered.as_str().into()),
        ),
    ];
    for field in PERSONAL_FIELDS {
        let blank = match view.get(*field) {
            None | Some(Json::Null) => continue,
            Some(Json::Array(_)) => FieldValue::List(Vec::new()),
            Some(Json::Number(_)) => FieldValue::Number(0.0),
            Some(_) => FieldValue::Text(String::new()),
        };
        e.push((*field, blank));
    }
    e
}

/// A worker as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    pub name: String,
    pub id_masked: String,
    /// The keyed hash field (`v2:` + hex), see [`crate::id_number::id_hash_field`].
    pub id_hash: String,
    pub phone: String,
    /// 2022 occupation codes.
    pub skills: Vec<String>,
    pub wage_min: Option<f64>,
    pub flags: Vec<Flag>,
    pub available_from: Option<String>,
    pub available_to: Option<String>,
    pub status: WorkerStatus,
    pub region: RegionCode,
    pub created_at: String,
}

impl Worker {
    /// The priority sum of distinct flags: 0 for none, higher helped first.
    pub fn priority(&self) -> i64 {
        priority_of(&self.flags)
    }
}

/// The priority of a set of flags (each counted once, however often it was given).
pub fn priority_of(flags: &[Flag]) -> i64 {
    let mut seen: Vec<Flag> = Vec::new();
    for f in flags {
        if !seen.contains(f) {
            seen.push(*f);
        }
    }
    seen.iter().map(|f| f.weight()).sum()
}

/// Parses a comma list of flags (`older,disabled`, or 大龄、残疾), refusing unknown and repeated
/// ones (a flag given twice would otherwise seem to count twice).
pub fn parse_flags(list: &str) -> Result<Vec<Flag>> {
    let mut flags = Vec::new();
    for word in list
        .split([',', '，', '、'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let f = Flag::parse("flags", word)?;
        if flags.contains(&f) {
            return Err(Error::invalid(
                "flags",
                format!("{} is given twice", f.as_str()),
                format!("{} 重复出现", f.as_zh()),
            ));
        }
        flags.push(f);
    }
    Ok(flags)
}

/// Resolves skills given as codes or everyday words (钟点工, 搬运) to occupation codes.
pub fn parse_skills(list: &str) -> Result<Vec<String>> {
    let codes = list
        .split([',', '，', '、'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            occupations()
                .resolve(w)
                .map(|o| o.code.to_string())
                .map_err(Error::from)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(distinct(codes))
}

impl Schema for Worker {
    const KIND: RecordKind = RecordKind::Worker;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("name", FieldValue::Text(self.name.clone())),
            ("id_masked", FieldValue::Text(self.id_masked.clone())),
            ("id_hash", FieldValue::Text(self.id_hash.clone())),
            ("phone", FieldValue::Text(self.phone.clone())),
            ("skills", FieldValue::List(self.skills.clone())),
            (
                "flags",
                FieldValue::List(self.flags.iter().map(|f| f.as_str().to_string()).collect()),
            ),
            ("status", FieldValue::Text(self.status.as_str().into())),
            ("region", FieldValue::Text(self.region.to_string())),
            ("created_at", FieldValue::Text(self.created_at.clone())),
        ];
        if let Some(w) = self.wage_min {
            e.push(("wage_min", FieldValue::Number(w)));
        }
        push_opt(&mut e, "available_from", &self.available_from);
        push_opt(&mut e, "available_to", &self.available_to);
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<Worker> {
        let v = View(view);
        if erased_at(view).is_some() {
            // Final: nothing personal is read from an erased record, whatever a station that
            // had not seen the erasure wrote beside or after it.
            return Ok(Worker {
                name: String::new(),
                id_masked: String::new(),
                id_hash: String::new(),
                phone: String::new(),
                skills: Vec::new(),
                wage_min: None,
                flags: Vec::new(),
                available_from: None,
                available_to: None,
                status: WorkerStatus::Deregistered,
                region: RegionCode::parse(&v.text("region")?).map_err(|_| {
                    Error::invalid("region", "must be a region code", "必须是区划代码")
                })?,
                created_at: v.opt_text("created_at")?.unwrap_or_default(),
            });
        }
        let flags = v
            .list("flags")?
            .iter()
            .filter_map(|f| Flag::parse("flags", f).ok())
            .collect();
        Ok(Worker {
            name: v.text("name")?,
            id_masked: v.opt_text("id_masked")?.unwrap_or_default(),
            id_hash: v.opt_text("id_hash")?.unwrap_or_default(),
            phone: v.opt_text("phone")?.unwrap_or_default(),
            skills: v.list("skills")?,
            wage_min: v.opt_number("wage_min")?,
            flags,
            available_from: v.opt_text("available_from")?,
            available_to: v.opt_text("available_to")?,
            status: v.opt_choice("status")?.unwrap_or(WorkerStatus::Active),
            region: RegionCode::parse(&v.text("region")?)
                .map_err(|_| Error::invalid("region", "must be a region code", "必须是区划代码"))?,
            created_at: v.opt_text("created_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        line("name", &self.name, 1, 50)?;
        phone("phone", &self.phone)?;
        if let Some(w) = self.wage_min {
            money("wage_min", w, true, 100_000.0)?;
        }
        for (field, date) in [
            ("available_from", &self.available_from),
            ("available_to", &self.available_to),
        ] {
            if let Some(d) = date {
                crate::dates::parse_date(field, d)?;
            }
        }
        if let (Some(from), Some(to)) = (&self.available_from, &self.available_to)
            && from > to
        {
            return Err(Error::invalid(
                "available_to",
                "must not be before available_from",
                "不能早于 available_from",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_given_twice_or_unknown_is_refused_and_chinese_names_work() {
        assert_eq!(
            parse_flags("older, 残疾").unwrap(),
            vec![Flag::Older, Flag::Disabled]
        );
        assert!(parse_flags("older,older").is_err());
        assert!(parse_flags("poor").is_err());
        let fifty = vec!["older"; 50].join(",");
        assert!(parse_flags(&fifty).is_err());
        assert_eq!(priority_of(&[Flag::Older, Flag::Older, Flag::Disabled]), 3);
    }

    #[test]
    fn an_erased_record_reads_nothing_personal_whatever_is_written_after() {
        let worker = Worker {
            name: "杨秀英".into(),
            id_masked: "52***************5".into(),
            id_hash: "v2:00".into(),
            phone: "13800000000".into(),
            skills: vec!["4-10-01-06".into()],
            wage_min: Some(150.0),
            flags: vec![Flag::Disabled],
            available_from: Some("2026-12-01".into()),
            available_to: None,
            status: WorkerStatus::Active,
            region: RegionCode::parse("522622101001").unwrap(),
            created_at: "2026-12-01T08:00:00+08:00".into(),
        };
        let key = crate::keys::NodeKey::from_seed([1; 32]).public();
        let first = crate::record::make_change(None, &key, &worker.edits(), 1_000).unwrap();
        let (saved, _) = crate::record::build_document(&[first.clone()]).unwrap();
        let view = crate::record::document_view(&saved).unwrap();
        let erase = erasure_edits(&view, "2026-12-06T08:00:00+08:00", "本人申请");
        let erased = crate::record::make_change(Some(&saved), &key, &erase, 2_000).unwrap();
        // A station that saw only the registration sets the name and phone concurrently.
        let other = crate::keys::NodeKey::from_seed([2; 32]).public();
        let stale = crate::record::make_change(
            Some(&saved),
            &other,
            &[
                ("name", FieldValue::Text("杨秀英（改）".into())),
                ("phone", FieldValue::Text("13900000000".into())),
            ],
            3_000,
        )
        .unwrap();
        for order in [
            vec![first.clone(), erased.clone(), stale.clone()],
            vec![first.clone(), stale.clone(), erased.clone()],
        ] {
            let (doc, _) = crate::record::build_document(&order).unwrap();
            let view = crate::record::document_view(&doc).unwrap();
            assert!(erased_at(&view).is_some());
            let read = Worker::from_view(&view).unwrap();
            assert_eq!(read.name, "");
            assert_eq!(read.phone, "");
            assert_eq!(read.id_masked, "");
            assert!(read.skills.is_empty() && read.flags.is_empty());
            assert_eq!(read.wage_min, None);
            assert_eq!(read.status, WorkerStatus::Deregistered);
            assert_eq!(read.region, worker.region);
        }
        // The erasure itself blanks every personal field the record held.
        let names: Vec<&str> = erase.iter().map(|(n, _)| *n).collect();
        for field in [
            "name",
            "id_masked",
            "id_hash",
            "phone",
            "skills",
            "wage_min",
            "flags",
        ] {
            assert!(names.contains(&field), "{field}");
        }
        assert!(!names.contains(&"available_to"));
    }

    #[test]
    fn skills_resolve_everyday_words_once() {
        let codes = parse_skills("钟点工,4-10-01-06").unwrap();
        assert_eq!(codes, vec!["4-10-01-06".to_string()]);
    }

    #[test]
    fn an_erasure_reason_is_one_of_the_law_s_cases_with_at_most_a_short_note_without_digits() {
        assert_eq!(erase_reason(" request ").unwrap(), "本人申请删除");
        assert_eq!(erase_reason("本人申请删除").unwrap(), "本人申请删除");
        assert_eq!(
            erase_reason("consent-withdrawn: 电话告知").unwrap(),
            "本人撤回同意：电话告知"
        );
        assert_eq!(
            erase_reason("本人申请删除：窗口当面申请").unwrap(),
            "本人申请删除：窗口当面申请"
        );
        for bad in [
            "",
            "杨秀英本人申请",
            "本人申请删除：电话13812345678",
            "本人申请删除：身份证５２２６",
            "request:",
            "request: 一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一",
            "request: a\u{202E}b",
        ] {
            let e = erase_reason(bad).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("reason") && text.contains("request"),
                "{bad:?}: {text}"
            );
        }
    }
}
