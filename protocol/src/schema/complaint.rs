//! The complaint (投诉/维权): what a worker reports at a station (wage arrears, discrimination,
//! fraud, unsafe work), its status flow, the acknowledgement deadline in working days, and the
//! mark a complaint leaves on the employer it names.
//!
//! **Status flow.** `received → accepted → handling → (referred) → resolved → closed`: every
//! update moves one step forward ([`ComplaintStatus::next`]); a referral (to legal aid, labour
//! arbitration or civil affairs, with where) is the one optional step. Skipping a step or going
//! back is refused by [`check_transition`], naming the field and the rule.
//!
//! **History.** Each step is one signed change of the complaint's document, so the status
//! history is the record's own change history: [`history`] reads, for each change, the document
//! as its author left it (Automerge `fork_at` the change), so a step shows its own status and
//! note even where two offices updated at once. No separate history list is stored (a list two
//! offices append to at once would need merging; the signed changes already are the history).
//! Each step writes `note` (empty when none), so a step never shows the previous step's note.
//!
//! **Privacy.** A complaint names a worker only by the worker record's id: no name, no ID
//! number. The complaint travels to every ancestor of the filing station (the province
//! included), where the worker record itself is held as a signed header only.
//!
//! **Employer marks.** A complaint naming an employer travels only up the filing station's line,
//! but the employer's record travels its whole home area. So a station that may edit the
//! employer's record writes a small mark on it (root key [`mark_key`], value [`Mark`] as JSON
//! text: kind, status, amounts, no text and no worker), and every station that holds the
//! employer shows the complaint with its status as last marked.

use super::{Choice, Schema, View, choice, line, money, paragraph, push_opt, record_ref};
use crate::dates;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::record::{FieldValue, RecordKind};
use crate::region::{Level, RegionCode};
use serde_json::{Map, Value as Json};

choice!(
    /// What the complaint is about.
    ComplaintKind {
        WageArrears = ("wage-arrears", "欠薪", "wage arrears"),
        Discrimination = ("discrimination", "就业歧视", "discrimination"),
        Fraud = ("fraud", "虚假招聘或欺诈", "fraud"),
        UnsafeWork = ("unsafe-work", "不安全作业", "unsafe work"),
        Other = ("other", "其他", "other"),
    }
);

choice!(
    /// Where a complaint stands, in the order of the flow.
    ComplaintStatus {
        Received = ("received", "已登记", "received"),
        Accepted = ("accepted", "已受理", "accepted"),
        Handling = ("handling", "处理中", "handling"),
        Referred = ("referred", "已转办", "referred"),
        Resolved = ("resolved", "已办结", "resolved"),
        Closed = ("closed", "已结案", "closed"),
    }
);

choice!(
    /// What the office found when it resolved the complaint.
    Finding {
        Upheld = ("upheld", "属实", "upheld"),
        PartlyUpheld = ("partly-upheld", "部分属实", "partly upheld"),
        NotUpheld = ("not-upheld", "不属实", "not upheld"),
    }
);

/// The largest amount of money a complaint may name, in yuan.
pub const MAX_AMOUNT: f64 = 10_000_000.0;

impl ComplaintStatus {
    /// The steps that may follow this one.
    pub fn next(self) -> &'static [ComplaintStatus] {
        use ComplaintStatus::*;
        match self {
            Received => &[Accepted],
            Accepted => &[Handling],
            Handling => &[Referred, Resolved],
            Referred => &[Resolved],
            Resolved => &[Closed],
            Closed => &[],
        }
    }

    /// Position in the flow (a referral sits between handling and resolved).
    pub fn rank(self) -> u8 {
        ComplaintStatus::ALL
            .iter()
            .position(|s| *s == self)
            .expect("in ALL") as u8
    }
}

/// Refuses a status change that is not the next step: the same status again, a step back, or
/// a skipped step, each with its rule in both languages (field `status`).
pub fn check_transition(from: ComplaintStatus, to: ComplaintStatus) -> Result<()> {
    if from.next().contains(&to) {
        return Ok(());
    }
    let next: Vec<&str> = from.next().iter().map(|s| s.as_str()).collect();
    let next_zh: Vec<&str> = from.next().iter().map(|s| s.as_zh()).collect();
    let (rule, rule_zh) = if to == from {
        (
            format!("the complaint is already {}", from.as_str()),
            format!("该投诉已经是“{}”状态", from.as_zh()),
        )
    } else if from == ComplaintStatus::Closed {
        (
            "the complaint is closed: no step follows".to_string(),
            "该投诉已结案，不能再变更状态".to_string(),
        )
    } else if to.rank() < from.rank() {
        (
            format!(
                "a status never goes back: the complaint is {}, it cannot become {} (next: {})",
                from.as_str(),
                to.as_str(),
                next.join(" or ")
            ),
            format!(
                "状态不能回退：该投诉已是“{}”，不能改为“{}”（下一步：{}）",
                from.as_zh(),
                to.as_zh(),
                next_zh.join("或")
            ),
        )
    } else {
        (
            format!(
                "a step may not be skipped: from {} the next step is {}",
                from.as_str(),
                next.join(" or ")
            ),
            format!(
                "不能跳过步骤：“{}”之后应为“{}”",
                from.as_zh(),
                next_zh.join("或")
            ),
        )
    };
    Err(Error::invalid("status", rule, rule_zh))
}

/// A complaint as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Complaint {
    pub kind: ComplaintKind,
    /// Short ids (32 hex digits) of the post, the employer and the worker record named.
    pub post: Option<String>,
    pub employer: Option<String>,
    /// Only the worker record's id: never a name or an ID number.
    pub worker: Option<String>,
    pub text: String,
    /// Yuan claimed (wages owed, money lost), rounded to the fen.
    pub amount: Option<f64>,
    pub status: ComplaintStatus,
    /// The latest step's note (empty when it had none).
    pub note: String,
    /// Where it was referred (legal aid, labour arbitration, civil affairs, with the office).
    pub referred_to: Option<String>,
    pub finding: Option<Finding>,
    /// Wage arrears recovered, yuan (wage-arrears complaints, from `resolved` on).
    pub recovered: Option<f64>,
    pub region: RegionCode,
    pub created_at: String,
}

impl Schema for Complaint {
    const KIND: RecordKind = RecordKind::Complaint;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("kind", FieldValue::Text(self.kind.as_str().into())),
            ("text", FieldValue::Text(self.text.clone())),
            ("status", FieldValue::Text(self.status.as_str().into())),
            ("note", FieldValue::Text(self.note.clone())),
            ("region", FieldValue::Text(self.region.to_string())),
            ("created_at", FieldValue::Text(self.created_at.clone())),
        ];
        push_opt(&mut e, "post", &self.post);
        push_opt(&mut e, "employer", &self.employer);
        push_opt(&mut e, "worker", &self.worker);
        push_opt(&mut e, "referred_to", &self.referred_to);
        push_opt(
            &mut e,
            "finding",
            &self.finding.map(|f| f.as_str().to_string()),
        );
        if let Some(a) = self.amount {
            e.push(("amount", FieldValue::Number(a)));
        }
        if let Some(r) = self.recovered {
            e.push(("recovered", FieldValue::Number(r)));
        }
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<Complaint> {
        let v = View(view);
        Ok(Complaint {
            kind: v.choice("kind")?,
            post: v.opt_text("post")?,
            employer: v.opt_text("employer")?,
            worker: v.opt_text("worker")?,
            text: v.text("text")?,
            amount: v.opt_number("amount")?,
            status: v.choice("status")?,
            note: v.opt_text("note")?.unwrap_or_default(),
            referred_to: v.opt_text("referred_to")?,
            finding: v.opt_choice("finding")?,
            recovered: v.opt_number("recovered")?,
            region: RegionCode::parse(&v.text("region")?)
                .map_err(|_| Error::invalid("region", "must be a region code", "必须是区划代码"))?,
            created_at: v.opt_text("created_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        paragraph("text", &self.text, 1, 2000)?;
        paragraph("note", &self.note, 0, 1000)?;
        for (field, value) in [
            ("post", &self.post),
            ("employer", &self.employer),
            ("worker", &self.worker),
        ] {
            if let Some(v) = value {
                record_ref(field, v)?;
            }
        }
        if let Some(a) = self.amount {
            money("amount", a, false, MAX_AMOUNT)?;
        }
        if let Some(r) = &self.referred_to {
            line("referred_to", r, 1, 200)?;
        }
        if self.status == ComplaintStatus::Referred && self.referred_to.is_none() {
            return Err(Error::invalid(
                "referred_to",
                "a referral names where the complaint went",
                "转办必须写明转往何处",
            ));
        }
        let settled = self.status.rank() >= ComplaintStatus::Resolved.rank();
        if settled && self.finding.is_none() {
            return Err(Error::invalid(
                "finding",
                "a resolved complaint states its finding (upheld, partly-upheld or not-upheld)",
                "办结必须写明核查结论（属实、部分属实或不属实）",
            ));
        }
        match (self.kind, self.recovered) {
            (ComplaintKind::WageArrears, None) if settled => {
                return Err(Error::invalid(
                    "recovered",
                    "a resolved wage-arrears complaint states the wages recovered, 0 if none",
                    "欠薪投诉办结必须写明追回金额，未追回填 0",
                ));
            }
            (ComplaintKind::WageArrears, Some(r)) => {
                money("recovered", r, true, MAX_AMOUNT)?;
            }
            (_, Some(_)) => {
                return Err(Error::invalid(
                    "recovered",
                    "only wage-arrears complaints record wages recovered",
                    "只有欠薪投诉记录追回金额",
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

/// What an update gives besides the new status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepFields {
    pub note: Option<String>,
    pub referred_to: Option<String>,
    pub finding: Option<Finding>,
    pub recovered: Option<f64>,
}

impl Complaint {
    /// The complaint after one step to `to`: the transition must be the next step, and each
    /// field given must belong to that step (`--referred-to` to `referred`, `--finding` to
    /// `resolved`, `--recovered` to a wage-arrears `resolved`); what a step needs, it must have.
    pub fn step(&self, to: ComplaintStatus, f: StepFields) -> Result<Complaint> {
        check_transition(self.status, to)?;
        let only = |field: &'static str, given: bool, step: ComplaintStatus| {
            if given && to != step {
                Err(Error::invalid(
                    field,
                    format!("belongs to the step {}, not {}", step.as_str(), to.as_str()),
                    format!("只能在“{}”这一步填写，而不是“{}”", step.as_zh(), to.as_zh()),
                ))
            } else {
                Ok(())
            }
        };
        only(
            "referred_to",
            f.referred_to.is_some(),
            ComplaintStatus::Referred,
        )?;
        only("finding", f.finding.is_some(), ComplaintStatus::Resolved)?;
        only(
            "recovered",
            f.recovered.is_some(),
            ComplaintStatus::Resolved,
        )?;
        let mut next = self.clone();
        next.status = to;
        next.note = match f.note {
            Some(n) => paragraph("note", &n, 0, 1000)?,
            None => String::new(),
        };
        if let Some(r) = f.referred_to {
            next.referred_to = Some(line("referred_to", &r, 1, 200)?);
        }
        if let Some(finding) = f.finding {
            next.finding = Some(finding);
        }
        if let Some(r) = f.recovered {
            next.recovered = Some(money("recovered", r, true, MAX_AMOUNT)?);
        }
        next.validate()?;
        Ok(next)
    }

    /// Whether this complaint, as it now stands, lets a station at `level` close the post and
    /// suspend the employer it names: a fraud or discrimination complaint resolved with the
    /// finding `upheld`, at a county or above. `field` names the flag that asked.
    pub fn check_enforcement(&self, field: &'static str, level: Level) -> Result<()> {
        if !matches!(
            self.kind,
            ComplaintKind::Fraud | ComplaintKind::Discrimination
        ) {
            return Err(Error::invalid(
                field,
                "only a fraud or discrimination finding closes a post or suspends an employer",
                "只有虚假招聘（欺诈）或就业歧视投诉查实后才能关闭岗位或暂停用工主体",
            ));
        }
        if self.status != ComplaintStatus::Resolved || self.finding != Some(Finding::Upheld) {
            return Err(Error::invalid(
                field,
                "only when the complaint is resolved with the finding upheld",
                "只能在办结且结论为属实时使用",
            ));
        }
        if level.depth() > Level::County.depth() {
            return Err(Error::invalid(
                field,
                "only a county office or one above it may close a post or suspend an employer on a finding",
                "只有县级及以上机构可以据投诉结论关闭岗位或暂停用工主体",
            ));
        }
        Ok(())
    }
}

/// True for Monday to Friday (day numbers since 1970-01-01, a Thursday). Public holidays and
/// the weekend days worked in their place (调休) are not known: they count as the weekday or
/// weekend day they fall on.
pub fn is_working_day(day: i64) -> bool {
    (day + 3).rem_euclid(7) < 5
}

/// The day `n` working days after `day` (the day itself not counted).
pub fn add_working_days(day: i64, n: u32) -> i64 {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d += 1;
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

/// The last day to acknowledge (accept) a complaint filed on `filed_day` (China time), given
/// `ack_days` working days.
pub fn ack_due(filed_day: i64, ack_days: u32) -> i64 {
    add_working_days(filed_day, ack_days)
}

/// A complaint still `received` after its acknowledgement day has passed.
pub fn is_overdue(status: ComplaintStatus, due_day: i64, today: i64) -> bool {
    status == ComplaintStatus::Received && today > due_day
}

/// One step of a complaint's status history: one signed change.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub status: ComplaintStatus,
    pub by: PublicKey,
    pub at_ms: i64,
    pub note: String,
    pub referred_to: Option<String>,
    pub finding: Option<Finding>,
    pub recovered: Option<f64>,
}

/// The status history of a complaint from its changes (author, envelope time, Automerge change
/// bytes), oldest first: for each change, the document as its author left it. A change whose
/// document does not read as a complaint is left out.
pub fn history(changes: &[(PublicKey, i64, Vec<u8>)]) -> Result<Vec<Step>> {
    let bad = |e: &dyn std::fmt::Display| Error::BadChange {
        detail: e.to_string(),
    };
    let mut parsed = Vec::with_capacity(changes.len());
    for (_, _, bytes) in changes {
        parsed.push(automerge::Change::from_bytes(bytes.clone()).map_err(|e| bad(&e))?);
    }
    let hashes: Vec<_> = parsed.iter().map(|c| c.hash()).collect();
    let mut doc = automerge::AutoCommit::new();
    doc.apply_changes(parsed).map_err(|e| bad(&e))?;
    let mut steps = Vec::new();
    for ((by, at_ms, _), hash) in changes.iter().zip(hashes) {
        let mut then = doc.fork_at(&[hash]).map_err(|e| bad(&e))?;
        let view = crate::record::document_view(&then.save())?;
        let Ok(c) = Complaint::from_view(&view) else {
            continue;
        };
        steps.push(Step {
            status: c.status,
            by: *by,
            at_ms: *at_ms,
            note: c.note,
            referred_to: c
                .referred_to
                .filter(|_| c.status == ComplaintStatus::Referred),
            finding: c.finding.filter(|_| c.status == ComplaintStatus::Resolved),
            recovered: c
                .recovered
                .filter(|_| c.status == ComplaintStatus::Resolved),
        });
    }
    steps.sort_by_key(|s| (s.at_ms, s.status.rank()));
    Ok(steps)
}

/// The root key of the mark a complaint leaves on the employer record it names.
pub fn mark_key(complaint_id: &str) -> String {
    format!("{MARK_PREFIX}{complaint_id}")
}

/// Prefix of [`mark_key`].
pub const MARK_PREFIX: &str = "complaint/";

/// What an employer record carries of a complaint naming it: no text, no worker.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub kind: ComplaintKind,
    pub status: ComplaintStatus,
    pub amount: Option<f64>,
    pub recovered: Option<f64>,
    /// When the complaint was filed (RFC 3339).
    pub filed_at: String,
}

impl Mark {
    pub fn of(c: &Complaint) -> Mark {
        Mark {
            kind: c.kind,
            status: c.status,
            amount: c.amount,
            recovered: c.recovered,
            filed_at: c.created_at.clone(),
        }
    }

    /// The mark as the JSON text stored under [`mark_key`].
    pub fn to_text(&self) -> String {
        serde_json::json!({
            "kind": self.kind.as_str(),
            "status": self.status.as_str(),
            "amount": self.amount,
            "recovered": self.recovered,
            "filed_at": self.filed_at,
        })
        .to_string()
    }

    pub fn from_text(text: &str) -> Result<Mark> {
        let bad = || Error::invalid("complaint", "is not a complaint mark", "不是投诉标记");
        let v: Map<String, Json> = serde_json::from_str(text).map_err(|_| bad())?;
        let v = View(&v);
        Ok(Mark {
            kind: v.choice("kind")?,
            status: v.choice("status")?,
            amount: v.opt_number("amount")?,
            recovered: v.opt_number("recovered")?,
            filed_at: v.opt_text("filed_at")?.unwrap_or_default(),
        })
    }
}

/// The complaint marks an employer record's view carries: (complaint id, mark), by id.
pub fn marks_in(view: &Map<String, Json>) -> Vec<(String, Mark)> {
    view.iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix(MARK_PREFIX)?;
            let mark = Mark::from_text(v.as_str()?).ok()?;
            Some((id.to_string(), mark))
        })
        .collect()
}

/// The filing day (China time) of a complaint created at `created_ms`.
pub fn filed_day(created_ms: i64) -> i64 {
    dates::today_cst(created_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplaintStatus::*;

    fn complaint(kind: ComplaintKind) -> Complaint {
        Complaint {
            kind,
            post: None,
            employer: Some("0123456789abcdef0123456789abcdef".into()),
            worker: None,
            text: "工资两个月未发".into(),
            amount: Some(3000.0),
            status: Received,
            note: String::new(),
            referred_to: None,
            finding: None,
            recovered: None,
            region: RegionCode::parse("522622101001").unwrap(),
            created_at: "2026-03-02T01:00:00Z".into(),
        }
    }

    fn field_of(e: Error) -> &'static str {
        match e {
            Error::InvalidField { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn complaint_status_moves_one_step_forward_only() {
        for from in ComplaintStatus::ALL {
            for to in ComplaintStatus::ALL {
                let ok = check_transition(*from, *to).is_ok();
                let expected = matches!(
                    (from, to),
                    (Received, Accepted)
                        | (Accepted, Handling)
                        | (Handling, Referred)
                        | (Handling, Resolved)
                        | (Referred, Resolved)
                        | (Resolved, Closed)
                );
                assert_eq!(ok, expected, "{from:?} -> {to:?}");
            }
        }
        let skip = check_transition(Received, Handling).unwrap_err();
        assert!(skip.to_string().contains("skipped"), "{skip}");
        let back = check_transition(Resolved, Handling).unwrap_err();
        assert!(back.to_string().contains("never goes back"), "{back}");
        assert_eq!(field_of(back), "status");
        let referred_back = check_transition(Referred, Handling).unwrap_err();
        assert!(referred_back.to_string().contains("never goes back"));
    }

    #[test]
    fn complaint_steps_need_their_own_fields_and_no_others() {
        let c = complaint(ComplaintKind::WageArrears);
        let c = c.step(Accepted, StepFields::default()).unwrap();
        let e = c
            .step(
                Handling,
                StepFields {
                    finding: Some(Finding::Upheld),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(field_of(e), "finding");
        let c = c
            .step(
                Handling,
                StepFields {
                    note: Some("已约谈老板".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.note, "已约谈老板");
        let e = c.step(Referred, StepFields::default()).unwrap_err();
        assert_eq!(field_of(e), "referred_to");
        let e = c
            .step(
                Resolved,
                StepFields {
                    finding: Some(Finding::Upheld),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(field_of(e), "recovered", "wage arrears state the recovery");
        let c = c
            .step(
                Resolved,
                StepFields {
                    finding: Some(Finding::Upheld),
                    recovered: Some(2999.999),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.recovered, Some(3000.0));
        assert_eq!(
            c.note, "",
            "a step without a note does not keep the last one"
        );
        let fraud = complaint(ComplaintKind::Fraud);
        let e = fraud
            .step(Accepted, StepFields::default())
            .and_then(|c| c.step(Handling, StepFields::default()))
            .and_then(|c| {
                c.step(
                    Resolved,
                    StepFields {
                        finding: Some(Finding::Upheld),
                        recovered: Some(1.0),
                        ..Default::default()
                    },
                )
            })
            .unwrap_err();
        assert_eq!(field_of(e), "recovered", "only wage arrears recover wages");
    }

    #[test]
    fn complaint_enforcement_needs_an_upheld_fraud_or_discrimination_finding_at_a_county() {
        let resolved = |kind, finding| {
            let mut c = complaint(kind);
            c.status = Resolved;
            c.finding = Some(finding);
            c
        };
        let upheld = resolved(ComplaintKind::Fraud, Finding::Upheld);
        assert!(
            upheld
                .check_enforcement("close_post", Level::County)
                .is_ok()
        );
        assert!(
            upheld
                .check_enforcement("close_post", Level::Province)
                .is_ok()
        );
        assert!(
            upheld
                .check_enforcement("close_post", Level::Township)
                .is_err()
        );
        let not = resolved(ComplaintKind::Discrimination, Finding::NotUpheld);
        assert!(not.check_enforcement("close_post", Level::County).is_err());
        let arrears = resolved(ComplaintKind::WageArrears, Finding::Upheld);
        assert!(
            arrears
                .check_enforcement("close_post", Level::City)
                .is_err()
        );
    }

    #[test]
    fn complaint_deadlines_count_monday_to_friday() {
        let day = |s| dates::parse_date("d", s).unwrap();
        // 2026-03-02 is a Monday.
        assert!(is_working_day(day("2026-03-02")));
        assert!(!is_working_day(day("2026-03-07")));
        assert!(!is_working_day(day("2026-03-08")));
        assert_eq!(ack_due(day("2026-03-02"), 3), day("2026-03-05"));
        // Filed on a Friday: Monday, Tuesday, Wednesday.
        assert_eq!(ack_due(day("2026-03-06"), 3), day("2026-03-11"));
        // Filed on a Saturday.
        assert_eq!(ack_due(day("2026-03-07"), 3), day("2026-03-11"));
        assert!(!is_overdue(Received, day("2026-03-11"), day("2026-03-11")));
        assert!(is_overdue(Received, day("2026-03-11"), day("2026-03-12")));
        assert!(!is_overdue(Accepted, day("2026-03-11"), day("2026-03-12")));
    }

    #[test]
    fn complaint_history_is_each_change_as_its_author_left_it() {
        let a = crate::keys::NodeKey::from_seed([1; 32]).public();
        let b = crate::keys::NodeKey::from_seed([2; 32]).public();
        let c = complaint(ComplaintKind::WageArrears);
        let filed = crate::record::make_change(None, &a, &c.edits(), 1_000).unwrap();
        let (saved, _) = crate::record::apply_change(None, &filed).unwrap();
        let accepted = c
            .step(
                Accepted,
                StepFields {
                    note: Some("已受理".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let ch2 =
            crate::record::make_change(Some(&saved), &b, &accepted.edits_since(&c), 2_000).unwrap();
        let steps = history(&[(a, 1_000, filed), (b, 2_000, ch2)]).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(
            (steps[0].status, steps[0].by, steps[0].note.as_str()),
            (Received, a, "")
        );
        assert_eq!(
            (steps[1].status, steps[1].by, steps[1].note.as_str()),
            (Accepted, b, "已受理")
        );
    }

    #[test]
    fn complaint_marks_round_trip_through_an_employer_view() {
        let c = complaint(ComplaintKind::WageArrears);
        let mut view = Map::new();
        view.insert("name".into(), "某建筑公司".into());
        view.insert(
            mark_key("00112233445566778899aabbccddeeff"),
            Mark::of(&c).to_text().into(),
        );
        let marks = marks_in(&view);
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].0, "00112233445566778899aabbccddeeff");
        assert_eq!(marks[0].1, Mark::of(&c));
        assert!(
            !Mark::of(&c).to_text().contains("工资"),
            "no text in a mark"
        );
    }
}
