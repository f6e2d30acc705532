//! The report seal (成效表签章): a station's signed statement of its region's figures for a
//! period, the commitment to exactly the records it counted, the seals of its child stations it
//! includes and the children it found no seal of.
//!
//! A seal is never edited: a station that learns of records after sealing (a late arrival, a
//! correction) seals again with `amends` naming the seal it replaces and a reason, so a
//! changed figure never goes unexplained. The latest seal of a region and period is the one in
//! force ([`latest`]).

use super::{Schema, View, line, paragraph, push_opt, record_ref};
use crate::error::{Error, Result};
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use crate::report::{Commitment, Figures, Period, figures_from_json};
use serde_json::{Map, Value as Json};

/// A child station's seal included in a parent's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChildSeal {
    pub region: RegionCode,
    /// The child seal's record id (32 hex digits).
    pub seal: String,
}

impl ChildSeal {
    fn to_text(&self) -> String {
        format!("{}:{}", self.region, self.seal)
    }
    fn from_text(s: &str) -> Result<ChildSeal> {
        let bad = || Error::invalid("children", "must be REGION:SEAL_ID", "必须是 区划:签章编号");
        let (region, seal) = s.split_once(':').ok_or_else(bad)?;
        Ok(ChildSeal {
            region: RegionCode::parse(region).map_err(|_| bad())?,
            seal: record_ref("children", seal)?,
        })
    }
}

/// A report seal as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportSeal {
    /// `YYYY-MM` or `YYYY-Qn`, normalized.
    pub period: String,
    pub region: RegionCode,
    pub figures: Figures,
    pub commitment: Commitment,
    pub children: Vec<ChildSeal>,
    /// Child regions with a certified station and no seal of the period held when sealing.
    pub missing_children: Vec<RegionCode>,
    /// The seal this one replaces, and why.
    pub amends: Option<String>,
    pub reason: Option<String>,
    pub sealed_at: String,
}

impl Schema for ReportSeal {
    const KIND: RecordKind = RecordKind::ReportSeal;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("period", FieldValue::Text(self.period.clone())),
            ("region", FieldValue::Text(self.region.to_string())),
            (
                "figures",
                FieldValue::Text(serde_json::to_string(&self.figures).expect("figures")),
            ),
            ("records", FieldValue::Int(self.commitment.records as i64)),
            (
                "fingerprint",
                FieldValue::Text(self.commitment.fingerprint.clone()),
            ),
            (
                "children",
                FieldValue::List(self.children.iter().map(ChildSeal::to_text).collect()),
            ),
            (
                "missing_children",
                FieldValue::List(
                    self.missing_children
                        .iter()
                        .map(|r| r.to_string())
                        .collect(),
                ),
            ),
            ("sealed_at", FieldValue::Text(self.sealed_at.clone())),
        ];
        push_opt(&mut e, "amends", &self.amends);
        push_opt(&mut e, "reason", &self.reason);
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<ReportSeal> {
        let v = View(view);
        let region = |s: &str, field: &'static str| {
            RegionCode::parse(s)
                .map_err(|_| Error::invalid(field, "must be a region code", "必须是区划代码"))
        };
        Ok(ReportSeal {
            period: Period::parse(&v.text("period")?)?.text,
            region: region(&v.text("region")?, "region")?,
            figures: figures_from_json(&v.text("figures")?)?,
            commitment: Commitment {
                records: v.int("records")?.max(0) as u64,
                fingerprint: v.text("fingerprint")?,
            },
            children: v
                .list("children")?
                .iter()
                .map(|c| ChildSeal::from_text(c))
                .collect::<Result<_>>()?,
            missing_children: v
                .list("missing_children")?
                .iter()
                .map(|c| region(c, "missing_children"))
                .collect::<Result<_>>()?,
            amends: v.opt_text("amends")?,
            reason: v.opt_text("reason")?,
            sealed_at: v.opt_text("sealed_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        Period::parse(&self.period)?;
        line("fingerprint", &self.commitment.fingerprint, 64, 64)?;
        if let Some(a) = &self.amends {
            record_ref("amends", a)?;
        }
        match (&self.amends, &self.reason) {
            (Some(_), None) => Err(Error::invalid(
                "reason",
                "an amended seal says why",
                "更正签章必须说明原因",
            )),
            (_, Some(r)) => paragraph("reason", r, 1, 500).map(|_| ()),
            (None, None) => Ok(()),
        }
    }
}

/// The seal in force among several of one region and period: the latest sealed, ties broken
/// by the larger id (`(created_ms, id, seal)` triples).
pub fn latest<T>(seals: impl IntoIterator<Item = (i64, String, T)>) -> Option<(i64, String, T)> {
    seals
        .into_iter()
        .max_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_reads_back_as_written_and_an_amendment_needs_a_reason() {
        let seal = ReportSeal {
            period: "2026-11".into(),
            region: RegionCode::parse("522622").unwrap(),
            figures: Figures {
                posts: 3,
                avg_daily_wage: Some(162.5),
                ..Figures::default()
            },
            commitment: Commitment {
                records: 5,
                fingerprint: "ab".repeat(32),
            },
            children: vec![ChildSeal {
                region: RegionCode::parse("522622101").unwrap(),
                seal: "cd".repeat(16),
            }],
            missing_children: vec![RegionCode::parse("522622102").unwrap()],
            amends: None,
            reason: None,
            sealed_at: "2026-12-01T01:00:00Z".into(),
        };
        seal.validate().unwrap();
        let actor = crate::keys::PublicKey([1; 32]);
        let change = crate::record::make_change(None, &actor, &seal.edits(), 0).unwrap();
        let (saved, _) = crate::record::apply_change(None, &change).unwrap();
        let view = crate::record::document_view(&saved).unwrap();
        assert_eq!(ReportSeal::from_view(&view).unwrap(), seal);
        let mut amended = seal.clone();
        amended.amends = Some("ef".repeat(16));
        assert!(amended.validate().is_err());
        amended.reason = Some("a placement of 2026-11-28 arrived late".into());
        amended.validate().unwrap();
    }
}
