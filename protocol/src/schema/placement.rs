//! The placement (即时确认结果): who was placed on which post, at what wage, from when, with
//! the worker's and the employer's on-site confirmations; and the fill arithmetic derived from
//! placements.
//!
//! A post's `filled` is the number of live (not cancelled) placements naming it, never a
//! counter two stations overwrite: two stations that place on the last place at once both keep
//! their placements, every node sees the post overfilled with both listed, and cancelling one
//! resolves it.

use super::{Choice, Schema, View, choice, money, paragraph, push_opt, record_ref};
use crate::dates;
use crate::error::{Error, Result};
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use serde_json::{Map, Value as Json};

choice!(
    /// Where a placement stands.
    PlacementStatus {
        Active = ("active", "在岗", "active"),
        Cancelled = ("cancelled", "已取消", "cancelled"),
        Ended = ("ended", "已结束", "ended"),
    }
);

choice!(
    /// How a side confirmed on the spot.
    Confirmation {
        Paper = ("paper", "纸质签字", "signed on paper"),
        Spoken = ("spoken", "口头确认", "confirmed aloud"),
        PhoneCode = ("phone-code", "手机验证码", "phone code"),
    }
);

choice!(
    /// How a placement ended: `unpaid` leads to a wage-arrears complaint.
    Outcome {
        Paid = ("paid", "已结清", "paid"),
        PaidLate = ("paid-late", "延迟支付", "paid late"),
        Unpaid = ("unpaid", "未支付", "unpaid"),
        LeftEarly = ("left-early", "提前离岗", "left early"),
    }
);

/// A placement as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// Short ids (32 hex digits) of the post and the worker.
    pub post: String,
    pub worker: String,
    pub employer: Option<String>,
    /// Agreed wage per the post's unit, rounded to the fen.
    pub wage: f64,
    pub unit: super::WageUnit,
    pub start: String,
    pub end: Option<String>,
    pub status: PlacementStatus,
    pub worker_confirmed: Option<Confirmation>,
    pub employer_confirmed: Option<Confirmation>,
    pub cancel_reason: Option<String>,
    pub outcome: Option<Outcome>,
    pub region: RegionCode,
    pub created_at: String,
}

impl Schema for Placement {
    const KIND: RecordKind = RecordKind::Placement;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("post", FieldValue::Text(self.post.clone())),
            ("worker", FieldValue::Text(self.worker.clone())),
            ("wage", FieldValue::Number(self.wage)),
            ("unit", FieldValue::Text(self.unit.as_str().into())),
            ("start", FieldValue::Text(self.start.clone())),
            ("status", FieldValue::Text(self.status.as_str().into())),
            ("region", FieldValue::Text(self.region.to_string())),
            ("created_at", FieldValue::Text(self.created_at.clone())),
        ];
        push_opt(&mut e, "employer", &self.employer);
        push_opt(&mut e, "end", &self.end);
        let word = |c: &Option<Confirmation>| c.map(|c| c.as_str().to_string());
        push_opt(&mut e, "worker_confirmed", &word(&self.worker_confirmed));
        push_opt(
            &mut e,
            "employer_confirmed",
            &word(&self.employer_confirmed),
        );
        push_opt(&mut e, "cancel_reason", &self.cancel_reason);
        push_opt(
            &mut e,
            "outcome",
            &self.outcome.map(|o| o.as_str().to_string()),
        );
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<Placement> {
        let v = View(view);
        Ok(Placement {
            post: v.text("post")?,
            worker: v.text("worker")?,
            employer: v.opt_text("employer")?,
            wage: v.number("wage")?,
            unit: v.opt_choice("unit")?.unwrap_or(super::WageUnit::Day),
            start: v.text("start")?,
            end: v.opt_text("end")?,
            status: v.opt_choice("status")?.unwrap_or(PlacementStatus::Active),
            worker_confirmed: v.opt_choice("worker_confirmed")?,
            employer_confirmed: v.opt_choice("employer_confirmed")?,
            cancel_reason: v.opt_text("cancel_reason")?,
            outcome: v.opt_choice("outcome")?,
            region: RegionCode::parse(&v.text("region")?)
                .map_err(|_| Error::invalid("region", "must be a region code", "必须是区划代码"))?,
            created_at: v.opt_text("created_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        record_ref("post", &self.post)?;
        record_ref("worker", &self.worker)?;
        money("wage", self.wage, false, self.unit.max_wage())?;
        let start = dates::parse_date("start", &self.start)?;
        if let Some(end) = &self.end
            && dates::parse_date("end", end)? < start
        {
            return Err(Error::invalid(
                "end",
                "must not be before start",
                "不能早于开始日期",
            ));
        }
        if let Some(r) = &self.cancel_reason {
            paragraph("reason", r, 1, 500)?;
        }
        Ok(())
    }
}

/// How many places of a post are taken, from the placements that name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub headcount: i64,
    /// Live placements (active or ended; cancelled ones do not count).
    pub filled: i64,
}

impl Fill {
    pub fn left(self) -> i64 {
        (self.headcount - self.filled).max(0)
    }
    /// More live placements than places: two stations placed on the last place at once.
    pub fn overfilled(self) -> bool {
        self.filled > self.headcount
    }
}

/// The fill of a post with `headcount` places from the statuses of the placements naming it.
pub fn fill(headcount: i64, placements: impl IntoIterator<Item = PlacementStatus>) -> Fill {
    let filled = placements
        .into_iter()
        .filter(|s| *s != PlacementStatus::Cancelled)
        .count() as i64;
    Fill { headcount, filled }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(n: u8) -> PlacementStatus {
        PlacementStatus::ALL[n as usize % 3]
    }

    proptest! {
        #[test]
        fn fill_counts_live_placements_in_any_order(
            headcount in 1i64..20,
            statuses in proptest::collection::vec(0u8..3, 0..40),
        ) {
            let live = statuses.iter().filter(|s| status(**s) != PlacementStatus::Cancelled).count() as i64;
            let f = fill(headcount, statuses.iter().map(|s| status(*s)));
            let mut reversed = statuses.clone();
            reversed.reverse();
            prop_assert_eq!(f, fill(headcount, reversed.iter().map(|s| status(*s))));
            prop_assert_eq!(f.filled, live);
            prop_assert_eq!(f.overfilled(), live > headcount);
            prop_assert_eq!(f.left(), (headcount - live).max(0));
        }
    }

    #[test]
    fn two_placements_on_the_last_place_overfill_until_one_is_cancelled() {
        let f = fill(1, [PlacementStatus::Active, PlacementStatus::Active]);
        assert!(f.overfilled());
        let f = fill(1, [PlacementStatus::Active, PlacementStatus::Cancelled]);
        assert!(!f.overfilled());
        assert_eq!(f.left(), 0);
    }
}
