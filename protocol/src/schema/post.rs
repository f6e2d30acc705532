//! The job post (招聘岗位): its fields, rules, and document form.
//!
//! A post's `filled` count is not a field: it is derived from the live placement records that
//! name the post ([`crate::schema::placement::fill`]), so two stations placing on the last
//! place at once both keep their placements and the post shows as overfilled. Its shown status
//! is derived too: an open post past its expiry date shows `expired`, one whose places are all
//! taken shows `filled`.

use super::{Choice, Schema, View, choice, line, money, paragraph, push_opt, record_ref};
use crate::dates;
use crate::error::{Error, Result};
use crate::occupation::occupations;
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use serde_json::{Map, Value as Json};

choice!(
    /// What the wage is paid per.
    WageUnit {
        Hour = ("hour", "小时", "hour"),
        Day = ("day", "天", "day"),
        Piece = ("piece", "件", "piece"),
        Month = ("month", "月", "month"),
    }
);

impl WageUnit {
    /// The highest believable wage per unit, in yuan: beyond it a post is a typo or a lure.
    pub fn max_wage(self) -> f64 {
        match self {
            WageUnit::Hour => 1_000.0,
            WageUnit::Day => 5_000.0,
            WageUnit::Piece => 10_000.0,
            WageUnit::Month => 100_000.0,
        }
    }
}

choice!(
    /// The status a station sets. `expired` and a derived `filled` are shown, not stored.
    PostStatus {
        Open = ("open", "招聘中", "open"),
        Filled = ("filled", "已招满", "filled"),
        Closed = ("closed", "已关闭", "closed"),
    }
);

choice!(
    /// The authenticity review (真实性审查): only approved posts are matched, pushed, shown
    /// publicly or counted as published.
    ReviewState {
        Pending = ("pending", "待审核", "pending"),
        Approved = ("approved", "已通过", "approved"),
        Rejected = ("rejected", "未通过", "rejected"),
    }
);

/// A job post as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Post {
    pub title: String,
    /// A 2022 occupation code (aliases are resolved before a post is built).
    pub occupation: String,
    /// Yuan per unit, rounded to the fen.
    pub wage: f64,
    pub unit: WageUnit,
    pub headcount: i64,
    /// The employer record's short id (32 hex digits).
    pub employer: Option<String>,
    pub status: PostStatus,
    pub review: ReviewState,
    pub review_reason: Option<String>,
    /// Node id of the reviewer and when (RFC 3339).
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<String>,
    pub region: RegionCode,
    pub reach: RegionCode,
    pub location: Option<String>,
    pub contact: Option<String>,
    pub description: Option<String>,
    /// Last day of the post, `YYYY-MM-DD` (China time).
    pub expires: Option<String>,
    pub created_at: String,
}

impl Post {
    /// Every field a post document may hold (its root map keys).
    pub const FIELDS: &'static [&'static str] = &[
        "title",
        "occupation",
        "wage",
        "unit",
        "headcount",
        "employer",
        "status",
        "review",
        "review_reason",
        "reviewed_by",
        "reviewed_at",
        "region",
        "reach",
        "location",
        "contact",
        "description",
        "expires",
        "created_at",
    ];

    /// Field rules of the title, which the review and matching read.
    pub const TITLE_CHARS: (usize, usize) = (2, 60);

    /// The status shown on `today` (days since the epoch, China time) with `filled` places
    /// taken: `expired` for an open post past its last day, `filled` when every place is taken.
    pub fn shown_status(&self, today: i64, filled: i64) -> &'static str {
        match self.status {
            PostStatus::Open if self.expired_on(today) => "expired",
            PostStatus::Open if filled >= self.headcount => "filled",
            other => other.as_str(),
        }
    }

    /// True once `today` is past the post's last day.
    pub fn expired_on(&self, today: i64) -> bool {
        self.expires
            .as_deref()
            .and_then(|e| dates::parse_date("expires", e).ok())
            .is_some_and(|last| last < today)
    }

    /// Open, approved and not expired on `today`: what may be matched, pushed, shown publicly
    /// and placed on (places left are checked separately).
    pub fn is_live(&self, today: i64) -> bool {
        self.status == PostStatus::Open
            && self.review == ReviewState::Approved
            && !self.expired_on(today)
    }
}

impl Schema for Post {
    const KIND: RecordKind = RecordKind::Post;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("title", FieldValue::Text(self.title.clone())),
            ("occupation", FieldValue::Text(self.occupation.clone())),
            ("wage", FieldValue::Number(self.wage)),
            ("unit", FieldValue::Text(self.unit.as_str().into())),
            ("headcount", FieldValue::Int(self.headcount)),
            ("status", FieldValue::Text(self.status.as_str().into())),
            ("review", FieldValue::Text(self.review.as_str().into())),
            ("region", FieldValue::Text(self.region.to_string())),
            ("reach", FieldValue::Text(self.reach.to_string())),
            ("created_at", FieldValue::Text(self.created_at.clone())),
        ];
        push_opt(&mut e, "employer", &self.employer);
        push_opt(&mut e, "review_reason", &self.review_reason);
        push_opt(&mut e, "reviewed_by", &self.reviewed_by);
        push_opt(&mut e, "reviewed_at", &self.reviewed_at);
        push_opt(&mut e, "location", &self.location);
        push_opt(&mut e, "contact", &self.contact);
        push_opt(&mut e, "description", &self.description);
        push_opt(&mut e, "expires", &self.expires);
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<Post> {
        let v = View(view);
        let region = |field: &'static str| -> Result<RegionCode> {
            RegionCode::parse(&v.text(field)?)
                .map_err(|_| Error::invalid(field, "must be a region code", "必须是区划代码"))
        };
        Ok(Post {
            title: v.text("title")?,
            occupation: v.text("occupation")?,
            wage: v.number("wage")?,
            unit: v.choice("unit")?,
            headcount: v.int("headcount")?,
            employer: v.opt_text("employer")?,
            status: v.opt_choice("status")?.unwrap_or(PostStatus::Open),
            review: v.opt_choice("review")?.unwrap_or(ReviewState::Pending),
            review_reason: v.opt_text("review_reason")?,
            reviewed_by: v.opt_text("reviewed_by")?,
            reviewed_at: v.opt_text("reviewed_at")?,
            region: region("region")?,
            reach: region("reach")?,
            location: v.opt_text("location")?,
            contact: v.opt_text("contact")?,
            description: v.opt_text("description")?,
            expires: v.opt_text("expires")?,
            created_at: v.opt_text("created_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        let (min, max) = Post::TITLE_CHARS;
        line("title", &self.title, min, max)?;
        occupations()
            .resolve(&self.occupation)
            .map_err(Error::from)?;
        money("wage", self.wage, false, self.unit.max_wage())?;
        if !(1..=10_000).contains(&self.headcount) {
            return Err(Error::invalid(
                "headcount",
                "must be between 1 and 10000",
                "必须在 1 到 10000 之间",
            ));
        }
        if let Some(e) = &self.employer {
            record_ref("employer", e)?;
        }
        if let Some(r) = &self.review_reason {
            paragraph("reason", r, 0, 500)?;
        }
        for (field, value, max) in [
            ("location", &self.location, 200),
            ("contact", &self.contact, 100),
        ] {
            if let Some(v) = value {
                line(field, v, 0, max)?;
            }
        }
        if let Some(d) = &self.description {
            paragraph("description", d, 0, 2000)?;
        }
        if let Some(e) = &self.expires {
            dates::parse_date("expires", e)?;
        }
        if !crate::scope::reach_allowed(&self.region, &self.reach) {
            return Err(Error::invalid(
                "reach",
                format!(
                    "must lie inside {} (the station's county or own area)",
                    crate::scope::home_area(&self.region)
                ),
                format!(
                    "必须在 {} 范围内（本站所在县或本辖区）",
                    crate::scope::home_area(&self.region)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Post {
        Post {
            title: "茶园采茶工".into(),
            occupation: "5-01-02-01".into(),
            wage: 150.0,
            unit: WageUnit::Day,
            headcount: 8,
            employer: None,
            status: PostStatus::Open,
            review: ReviewState::Pending,
            review_reason: None,
            reviewed_by: None,
            reviewed_at: None,
            region: RegionCode::parse("522622101001").unwrap(),
            reach: RegionCode::parse("522622101").unwrap(),
            location: Some("旧州镇茶园".into()),
            contact: Some("13812345678".into()),
            description: None,
            expires: Some("2026-12-31".into()),
            created_at: "2026-12-06T09:00:00+08:00".into(),
        }
    }

    #[test]
    fn a_post_reads_back_from_its_document_as_it_was_written() {
        let post = sample();
        post.validate().unwrap();
        let me = crate::keys::NodeKey::from_seed([7; 32]).public();
        let change =
            crate::record::make_change(None, &me, &post.edits(), 1_765_000_000_000).unwrap();
        let applied = crate::record::apply_change_viewed(None, &change).unwrap();
        assert_eq!(Post::from_view(&applied.view).unwrap(), post);
    }

    #[test]
    fn every_field_written_is_a_listed_field() {
        let mut post = sample();
        post.employer = Some("0".repeat(32));
        post.review_reason = Some("x".into());
        post.reviewed_by = Some("x".into());
        post.reviewed_at = Some("x".into());
        post.description = Some("x".into());
        let names: Vec<&str> = post.edits().iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), Post::FIELDS.len());
        assert!(names.iter().all(|n| Post::FIELDS.contains(n)));
    }

    #[test]
    fn an_update_writes_only_what_changed() {
        let before = sample();
        let mut after = before.clone();
        after.headcount = 3;
        after.review = ReviewState::Approved;
        let names: Vec<&str> = after.edits_since(&before).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, vec!["headcount", "review"]);
    }

    #[test]
    fn the_shown_status_derives_expired_and_filled() {
        let post = sample();
        let last = dates::parse_date("expires", "2026-12-31").unwrap();
        assert_eq!(post.shown_status(last, 0), "open");
        assert_eq!(post.shown_status(last + 1, 0), "expired");
        assert_eq!(post.shown_status(last, 8), "filled");
        assert!(!post.is_live(last), "pending review");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, Box<dyn Fn(&mut Post)>)> = vec![
            ("title", Box::new(|p| p.title = "急招\n搬运".into())),
            ("wage", Box::new(|p| p.wage = 1e-320)),
            ("wage", Box::new(|p| p.wage = 6000.0)),
            ("headcount", Box::new(|p| p.headcount = 0)),
            (
                "reach",
                Box::new(|p| p.reach = RegionCode::parse("520102").unwrap()),
            ),
            ("employer", Box::new(|p| p.employer = Some("xyz".into()))),
        ];
        for (field, spoil) in cases {
            let mut p = sample();
            spoil(&mut p);
            let e = p.validate().expect_err(field);
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
    }
}
