//! The flexible worker (灵活就业人员): fields, priority flags, document form.
//!
//! The clear ID number is not a field: the registering station keeps it in its private table;
//! the record carries the mask and the keyed hash ([`crate::id_number`]). Priority flags say who
//! is helped first (困难帮扶): older workers, disabled workers, and those who have waited long
//! (set by a clerk, or derived from the registration date and the placements by the node).

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
    fn skills_resolve_everyday_words_once() {
        let codes = parse_skills("钟点工,4-10-01-06").unwrap();
        assert_eq!(codes, vec!["4-10-01-06".to_string()]);
    }
}
