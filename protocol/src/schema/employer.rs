//! The employer (用工主体): an enterprise, an individual business, an individual, or other.
//!
//! An enterprise carries its unified social credit code (统一社会信用代码), whose check
//! character is validated. An individual employer's ID number is treated like a worker's: the
//! record carries only the mask and the keyed hash; the clear number stays in the registering
//! station's private table. Verification records who checked the licence or ID, when and how;
//! a suspended employer's posts cannot be approved.

use super::{Choice, Schema, View, choice, line, phone, push_opt};
use crate::error::{Error, Result};
use crate::record::{FieldValue, RecordKind};
use crate::region::RegionCode;
use serde_json::{Map, Value as Json};

choice!(
    /// What kind of employer.
    EmployerType {
        Enterprise = ("enterprise", "企业", "enterprise"),
        IndividualBusiness = ("individual-business", "个体工商户", "individual business"),
        Individual = ("individual", "个人", "individual"),
        Other = ("other", "其他", "other"),
    }
);

choice!(
    /// Active, or suspended with a reason (after a fraud or discrimination finding).
    EmployerStatus {
        Active = ("active", "正常", "active"),
        Suspended = ("suspended", "已暂停", "suspended"),
    }
);

/// An employer as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Employer {
    pub name: String,
    pub kind: EmployerType,
    /// Enterprises and individual businesses: the unified social credit code.
    pub credit_code: Option<String>,
    /// Individuals: the masked ID number and its keyed hash (never the clear number).
    pub id_masked: Option<String>,
    pub id_hash: Option<String>,
    pub contact: String,
    pub phone: String,
    pub address: Option<String>,
    /// Who checked the licence or ID, when (RFC 3339), and how (e.g. "营业执照原件").
    pub verified_by: Option<String>,
    pub verified_at: Option<String>,
    pub status: EmployerStatus,
    pub suspend_reason: Option<String>,
    pub region: RegionCode,
    pub created_at: String,
}

impl Schema for Employer {
    const KIND: RecordKind = RecordKind::Employer;

    fn edits(&self) -> Vec<(&'static str, FieldValue)> {
        let mut e = vec![
            ("name", FieldValue::Text(self.name.clone())),
            ("type", FieldValue::Text(self.kind.as_str().into())),
            ("contact", FieldValue::Text(self.contact.clone())),
            ("phone", FieldValue::Text(self.phone.clone())),
            ("status", FieldValue::Text(self.status.as_str().into())),
            ("region", FieldValue::Text(self.region.to_string())),
            ("created_at", FieldValue::Text(self.created_at.clone())),
        ];
        push_opt(&mut e, "credit_code", &self.credit_code);
        push_opt(&mut e, "id_masked", &self.id_masked);
        push_opt(&mut e, "id_hash", &self.id_hash);
        push_opt(&mut e, "address", &self.address);
        push_opt(&mut e, "verified_by", &self.verified_by);
        push_opt(&mut e, "verified_at", &self.verified_at);
        push_opt(&mut e, "suspend_reason", &self.suspend_reason);
        e
    }

    fn from_view(view: &Map<String, Json>) -> Result<Employer> {
        let v = View(view);
        Ok(Employer {
            name: v.text("name")?,
            kind: v.choice("type")?,
            credit_code: v.opt_text("credit_code")?,
            id_masked: v.opt_text("id_masked")?,
            id_hash: v.opt_text("id_hash")?,
            contact: v.opt_text("contact")?.unwrap_or_default(),
            phone: v.opt_text("phone")?.unwrap_or_default(),
            address: v.opt_text("address")?,
            verified_by: v.opt_text("verified_by")?,
            verified_at: v.opt_text("verified_at")?,
            status: v.opt_choice("status")?.unwrap_or(EmployerStatus::Active),
            suspend_reason: v.opt_text("suspend_reason")?,
            region: RegionCode::parse(&v.text("region")?)
                .map_err(|_| Error::invalid("region", "must be a region code", "必须是区划代码"))?,
            created_at: v.opt_text("created_at")?.unwrap_or_default(),
        })
    }

    fn validate(&self) -> Result<()> {
        line("name", &self.name, 2, 100)?;
        line("contact", &self.contact, 1, 50)?;
        phone("phone", &self.phone)?;
        if let Some(a) = &self.address {
            line("address", a, 0, 200)?;
        }
        if let Some(v) = &self.verified_by {
            line("verified_by", v, 0, 100)?;
        }
        match self.kind {
            EmployerType::Enterprise if self.credit_code.is_none() => {
                return Err(Error::invalid(
                    "credit_code",
                    "an enterprise needs its unified social credit code",
                    "企业必须填写统一社会信用代码",
                ));
            }
            EmployerType::Individual if self.id_hash.is_none() => {
                return Err(Error::invalid(
                    "id_number",
                    "an individual employer needs an ID number",
                    "个人雇主必须填写身份证号",
                ));
            }
            _ => {}
        }
        if self.status == EmployerStatus::Suspended && self.suspend_reason.is_none() {
            return Err(Error::invalid(
                "reason",
                "a suspension needs its reason",
                "暂停必须说明原因",
            ));
        }
        Ok(())
    }
}
