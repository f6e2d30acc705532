//! The supervision order (限期整改通知): a city or county orders a station below it to correct
//! a condition (no posts collected or updated, not heard from, a report not sealed, complaints
//! overdue, or a reason in words) by a deadline.
//!
//! The record travels like a revocation (PROTOCOL.md §12): its `reach` is the ordered station's
//! home area, so the station and its county hold it, and the issuer's ancestors (the province)
//! see it. Whether it is cleared or overdue is computed where it is read, from what is held
//! there, and never stored.

use super::{Schema, View, line, paragraph};
use crate::dates;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use serde_json::{Map, Value as Json};

/// A supervision order as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisionOrder {
    /// The ordered station's node id (`12D3KooW…`) and region.
    pub node: String,
    pub node_region: RegionCode,
    pub reason: String,
    /// Last day to correct, `YYYY-MM-DD` (China time).
    pub deadline: String,
    /// The conditions `supervise` found at the station when the order was issued.
    pub conditions: Vec<String>,
    /// The `--stale-days` the conditions were judged with.
    pub stale_days: i64,
    /// The issuer's region.
    pub region: RegionCode,
    pub issued_at: String,
}

impl Schema for SupervisionOrder {
    const KIND: RecordKind = RecordKind::SupervisionOrder;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        vec![
            ("node", FieldValue::Text(self.node.clone())),
            (
                "node_region",
                FieldValue::Text(self.node_region.to_string()),
            ),
            ("reason", FieldValue::Text(self.reason.clone())),
            ("deadline", FieldValue::Text(self.deadline.clone())),
            ("conditions", FieldValue::List(self.conditions.clone())),
            ("stale_days", FieldValue::Int(self.stale_days)),
            ("region", FieldValue::Text(self.region.to_string())),
            ("issued_at", FieldValue::Text(self.issued_at.clone())),
        ]
    }

    fn from_view(view: &Map<String, Json>) -> Result<SupervisionOrder> {
        let v = View(view);
        let region = |field: &'static str| -> Result<RegionCode> {
            RegionCode::parse(&v.text(field)?)
                .map_err(|_| Error::invalid(field, "must be a region code", "必须是区划代码"))
        };
        Ok(SupervisionOrder {
            node: v.text("node")?,
            node_region: region("node_region")?,
            reason: v.text("reason")?,
            deadline: v.text("deadline")?,
            conditions: v.list("conditions")?,
            stale_days: v.opt_number("stale_days")?.unwrap_or(14.0) as i64,
            region: region("region")?,
            issued_at: v.opt_text("issued_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        PublicKey::from_node_id(&self.node).ok_or_else(|| {
            Error::invalid(
                "node",
                "must be a node id (12D3KooW…)",
                "必须是节点编号（12D3KooW…）",
            )
        })?;
        paragraph("reason", &self.reason, 1, 500)?;
        dates::parse_date("deadline", &self.deadline)?;
        for c in &self.conditions {
            line("conditions", c, 1, 100)?;
        }
        if !(1..=365).contains(&self.stale_days) {
            return Err(Error::invalid(
                "stale-days",
                "must be 1 to 365",
                "必须在 1 到 365 之间",
            ));
        }
        if !self.region.is_strict_ancestor_of(&self.node_region) {
            return Err(Error::invalid(
                "node",
                format!(
                    "only a city or county above the station ({}) may order it; this node is {}",
                    self.node_region, self.region
                ),
                format!(
                    "只有站点（{}）的上级市、县可以下达整改通知；本节点是 {}",
                    self.node_region, self.region
                ),
            ));
        }
        Ok(())
    }
}
