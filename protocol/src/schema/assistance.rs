//! The assistance record (困难帮扶台账): one thing a station did for a worker — career
//! guidance, a job recommendation, training information, an internship offer, a policy
//! consultation, a subsidy application, social-insurance enrolment, a referral to civil affairs
//! (民政) — and the yearly targets per kind for workers with priority (the "1311" public
//! employment service: 1 career guidance, 3 job recommendations, 1 training, 1 internship a
//! year by default; stations configure their own).
//!
//! An assistance record names a worker and so travels like the worker record (PROTOCOL.md §12):
//! in full up to the county, as a signed header only above it. A job recommendation may name
//! the post recommended and what came of it (contacted, interested, declined, unreachable);
//! the other kinds name neither.

use super::{Choice, Schema, View, choice, line, paragraph, push_opt, record_ref};
use crate::dates;
use crate::error::{Error, Result};
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

choice!(
    /// What a station did for a worker.
    AssistKind {
        CareerGuidance = ("career-guidance", "职业指导", "career guidance"),
        JobRecommendation = ("job-recommendation", "岗位推荐", "job recommendation"),
        TrainingInfo = ("training-info", "培训信息", "training information"),
        InternshipOffer = ("internship-offer", "见习机会", "internship offer"),
        PolicyConsultation = ("policy-consultation", "政策咨询", "policy consultation"),
        SubsidyApplication = ("subsidy-application", "补贴申领", "subsidy application"),
        SocialInsurance = ("social-insurance", "社保参保", "social insurance"),
        CivilAffairsReferral = ("civil-affairs-referral", "转介民政", "referral to civil affairs"),
    }
);

choice!(
    /// What came of a job recommendation (a push list's contact).
    PushResult {
        Contacted = ("contacted", "已联系", "contacted"),
        Interested = ("interested", "有意向", "interested"),
        Declined = ("declined", "不愿意", "declined"),
        Unreachable = ("unreachable", "联系不上", "unreachable"),
    }
);

/// An assistance record as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Assistance {
    /// Short id (32 hex digits) of the worker helped.
    pub worker: String,
    pub kind: AssistKind,
    /// The post recommended (job recommendations only).
    pub post: Option<String>,
    /// What came of the recommendation (job recommendations only).
    pub result: Option<PushResult>,
    pub note: Option<String>,
    /// When it was done, RFC 3339.
    pub at: String,
    /// The node id (`12D3KooW…`) of the station that did it.
    pub station: String,
    /// The station's region (the record's home region).
    pub region: RegionCode,
}

impl Schema for Assistance {
    const KIND: RecordKind = RecordKind::Assistance;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("worker", FieldValue::Text(self.worker.clone())),
            ("kind", FieldValue::Text(self.kind.as_str().into())),
            ("at", FieldValue::Text(self.at.clone())),
            ("station", FieldValue::Text(self.station.clone())),
            ("region", FieldValue::Text(self.region.to_string())),
        ];
        push_opt(&mut e, "post", &self.post);
        push_opt(
            &mut e,
            "result",
            &self.result.map(|r| r.as_str().to_string()),
        );
        push_opt(&mut e, "note", &self.note);
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<Assistance> {
        let v = View(view);
        Ok(Assistance {
            worker: v.text("worker")?,
            kind: v.choice("kind")?,
            post: v.opt_text("post")?,
            result: v.opt_choice("result")?,
            note: v.opt_text("note")?,
            at: v.text("at")?,
            station: v.text("station")?,
            region: RegionCode::parse(&v.text("region")?)
                .map_err(|_| Error::invalid("region", "must be a region code", "必须是区划代码"))?,
        })
    }

    fn validate(&self) -> Result<()> {
        record_ref("worker", &self.worker)?;
        if self.kind != AssistKind::JobRecommendation {
            if self.post.is_some() {
                return Err(Error::invalid(
                    "post",
                    "only a job recommendation names a post",
                    "只有岗位推荐可以指定岗位",
                ));
            }
            if self.result.is_some() {
                return Err(Error::invalid(
                    "result",
                    "only a job recommendation has a result",
                    "只有岗位推荐可以填写结果",
                ));
            }
        }
        if let Some(p) = &self.post {
            record_ref("post", p)?;
        }
        if let Some(n) = &self.note {
            paragraph("note", n, 1, 500)?;
        }
        if dates::parse_rfc3339(&self.at).is_none() {
            return Err(Error::invalid(
                "at",
                "must be an RFC 3339 time",
                "必须是 RFC 3339 格式的时间",
            ));
        }
        line("station", &self.station, 1, 100)?;
        Ok(())
    }
}

/// The yearly targets of the "1311" service for a worker with priority: 1 career guidance, 3
/// job recommendations, 1 training, 1 internship (the defaults; a station configures its own).
pub const DEFAULT_TARGETS: [(AssistKind, u32); 4] = [
    (AssistKind::CareerGuidance, 1),
    (AssistKind::JobRecommendation, 3),
    (AssistKind::TrainingInfo, 1),
    (AssistKind::InternshipOffer, 1),
];

/// How far one worker is behind one kind's yearly target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shortfall {
    pub kind: AssistKind,
    pub target: u32,
    pub done: u32,
    /// `target - done`, at least 0.
    pub short: u32,
}

/// Each kind's target against what was done this year, in the targets' order (kinds with a
/// target of 0 are left out); `done` counts per kind.
pub fn shortfalls(
    targets: &BTreeMap<AssistKind, u32>,
    done: &BTreeMap<AssistKind, u32>,
) -> Vec<Shortfall> {
    targets
        .iter()
        .filter(|(_, t)| **t > 0)
        .map(|(kind, target)| {
            let done = done.get(kind).copied().unwrap_or(0);
            Shortfall {
                kind: *kind,
                target: *target,
                done,
                short: target.saturating_sub(done),
            }
        })
        .collect()
}

/// The calendar year (China time, UTC+8) of a time in unix milliseconds: targets are yearly.
pub fn year_cst(ms: i64) -> i64 {
    dates::civil_from_days(dates::today_cst(ms)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recommendation() -> Assistance {
        Assistance {
            worker: "0123456789abcdef0123456789abcdef".into(),
            kind: AssistKind::JobRecommendation,
            post: Some("fedcba9876543210fedcba9876543210".into()),
            result: Some(PushResult::Interested),
            note: Some("电话联系，下周面试".into()),
            at: "2026-12-06T02:00:00Z".into(),
            station: "12D3KooWExample".into(),
            region: RegionCode::parse("522622101001").unwrap(),
        }
    }

    #[test]
    fn a_recommendation_round_trips_through_its_document_view() {
        let a = recommendation();
        a.validate().unwrap();
        let change =
            crate::record::make_change(None, &crate::keys::PublicKey([7; 32]), &a.edits(), 1000)
                .unwrap();
        let (saved, _) = crate::record::apply_change(None, &change).unwrap();
        let view = crate::record::document_view(&saved).unwrap();
        assert_eq!(Assistance::from_view(&view).unwrap(), a);
        assert_eq!(view["kind"], "job-recommendation");
        assert_eq!(view["result"], "interested");
    }

    #[test]
    fn a_post_or_result_is_refused_on_kinds_other_than_recommendations() {
        let mut a = recommendation();
        a.kind = AssistKind::CareerGuidance;
        let e = a.validate().unwrap_err().to_string();
        assert!(e.contains("post"), "{e}");
        a.post = None;
        let e = a.validate().unwrap_err().to_string();
        assert!(e.contains("result"), "{e}");
        a.result = None;
        a.validate().unwrap();
    }

    #[test]
    fn bad_fields_are_refused_naming_them() {
        let cases: [(&str, fn(&mut Assistance)); 5] = [
            ("worker", |a| a.worker = "not-an-id".into()),
            ("post", |a| a.post = Some("1234".into())),
            ("note", |a| a.note = Some("x\u{202E}y".into())),
            ("at", |a| a.at = "yesterday".into()),
            ("station", |a| a.station = " ".into()),
        ];
        for (field, spoil) in cases {
            let mut a = recommendation();
            spoil(&mut a);
            let e = a.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn kinds_and_results_parse_in_both_languages_and_unknown_words_name_the_field() {
        assert_eq!(
            AssistKind::parse("kind", "培训信息").unwrap(),
            AssistKind::TrainingInfo
        );
        assert_eq!(
            AssistKind::parse("kind", "civil-affairs-referral").unwrap(),
            AssistKind::CivilAffairsReferral
        );
        let e = AssistKind::parse("kind", "haircut")
            .unwrap_err()
            .to_string();
        assert!(e.contains("kind") && e.contains("career-guidance"), "{e}");
        let e = PushResult::parse("result", "maybe")
            .unwrap_err()
            .to_string();
        assert!(e.contains("result") && e.contains("unreachable"), "{e}");
        assert_eq!(AssistKind::ALL.len(), 8);
    }

    #[test]
    fn shortfalls_count_against_the_1311_targets() {
        let targets: BTreeMap<_, _> = DEFAULT_TARGETS.into_iter().collect();
        let done: BTreeMap<_, _> = [
            (AssistKind::JobRecommendation, 1),
            (AssistKind::CareerGuidance, 2),
            (AssistKind::PolicyConsultation, 5),
        ]
        .into_iter()
        .collect();
        let s = shortfalls(&targets, &done);
        assert_eq!(s.len(), 4);
        let short: u32 = s.iter().map(|x| x.short).sum();
        // 0 guidance (2 done of 1), 2 recommendations, 1 training, 1 internship.
        assert_eq!(short, 4);
        let rec = s
            .iter()
            .find(|x| x.kind == AssistKind::JobRecommendation)
            .unwrap();
        assert_eq!((rec.target, rec.done, rec.short), (3, 1, 2));
        let mut off = targets.clone();
        off.insert(AssistKind::InternshipOffer, 0);
        assert_eq!(shortfalls(&off, &done).len(), 3);
    }

    #[test]
    fn an_assistance_record_travels_like_the_worker_record_it_names() {
        use crate::scope::{Scope, Want};
        let village = RegionCode::parse("522622101001").unwrap();
        for (node, want) in [
            ("522622101001", Want::Full),
            ("522622101", Want::Full),
            ("522622", Want::Full),
            ("5226", Want::Header),
            ("52", Want::Header),
            ("522622101002", Want::Nothing),
            ("522623", Want::Nothing),
        ] {
            let scope = Scope::new(RegionCode::parse(node).unwrap());
            assert_eq!(
                scope.wants(RecordKind::Assistance, &village, &village),
                want,
                "{node}"
            );
            assert_eq!(
                scope.wants(RecordKind::Assistance, &village, &village),
                scope.wants(RecordKind::Worker, &village, &village),
                "{node}"
            );
        }
    }

    #[test]
    fn the_year_is_the_china_time_year() {
        // 2026-12-31T16:30Z is 2027-01-01 00:30 in Guizhou.
        let ms = dates::parse_rfc3339("2026-12-31T16:30:00Z").unwrap();
        assert_eq!(year_cst(ms), 2027);
        assert_eq!(year_cst(ms - 3_600_000), 2026);
    }
}
