//! Employers (用工主体): register, update (including who verified the licence or ID), list,
//! show, suspend.
//!
//! An enterprise or individual business gives its unified social credit code (check
//! character validated, GB 32100-2015); one code is registered once per station. An
//! individual employer's ID number is treated like a worker's: checked, hashed with the node's
//! ID-hash key, kept in clear only in this station's private table. A suspended employer's new
//! posts are refused and its pending posts cannot be approved.

use super::{required, typed, write_edits};
use crate::error::{NodeError, Result};
use crate::index;
use crate::station::{Station, now_ms};
use lingong_protocol::author::Target;
use lingong_protocol::credit_code::check_credit_code;
use lingong_protocol::dates;
use lingong_protocol::id_number;
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::{
    Choice, Employer, EmployerStatus, EmployerType, Schema, line, paragraph,
};
use lingong_protocol::store::RecordState;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An employer as typed. `Debug` masks an individual's ID number.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct EmployerFields {
    pub name: Option<String>,
    /// enterprise, individual-business, individual or other. Named `type` on the wire, as the
    /// command line's `--type`, the CSV column and every error say; `kind` is still read.
    #[serde(rename = "type", alias = "kind")]
    pub kind: Option<String>,
    pub credit_code: Option<String>,
    pub id_number: Option<String>,
    pub contact: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Who checked the licence or ID and how ("张三，营业执照原件").
    pub verified_by: Option<String>,
}

impl std::fmt::Debug for EmployerFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmployerFields")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("credit_code", &self.credit_code)
            .field(
                "id_number",
                &self.id_number.as_deref().map(id_number::mask_id_number),
            )
            .finish_non_exhaustive()
    }
}

/// A registration checked and ready to sign: the record, and an individual's clear ID number
/// with its hash for this station's private table.
pub struct NewEmployer {
    pub employer: Employer,
    pub clear_id: Option<(String, [u8; 32])>,
}

/// `employer register`.
pub fn register(station: &mut Station, f: EmployerFields) -> Result<Value> {
    let now = now_ms();
    let new = prepare(station, f, now)?;
    if let Some(code) = &new.employer.credit_code
        && let Some(other) = find_by_credit_code(station, code)?
    {
        return Err(already_registered(&other.id().to_hex()));
    }
    let edits = new.employer.edits();
    let env = station.write(|author, staged| {
        Ok(author.write(
            staged,
            Target::Create {
                kind: RecordKind::Employer,
                reach: None,
            },
            &edits,
            now,
        )?)
    })?;
    let rid = env.header.record;
    if let Some((clear, hash)) = new.clear_id {
        station.store.put_private_id(&rid, &clear, &hash)?;
    }
    Ok(json!({ "id": rid.to_hex() }))
}

/// The error for a credit code registered here already, as `other`.
pub fn already_registered(other: &str) -> NodeError {
    NodeError::usage(
        "credit_code",
        format!("this employer is already registered here as {other}"),
        format!("该用工主体已在本站登记，编号 {other}"),
    )
}

/// A registration from the fields as typed, with every field rule `employer register` applies
/// checked (type, credit code, ID number, the schema's rules), but not whether the credit code
/// is registered here already ([`find_by_credit_code`]); nothing is written. `employer import`
/// prepares every row with it and checks the codes against one scan of the employers.
pub fn prepare(station: &Station, f: EmployerFields, now: i64) -> Result<NewEmployer> {
    let kind = EmployerType::parse("type", &required("type", f.kind)?)?;
    let credit_code = f
        .credit_code
        .as_deref()
        .map(check_credit_code)
        .transpose()?;
    let mut clear_id = None;
    let (id_masked, id_hash) = match (&f.id_number, kind) {
        (Some(given), _) => {
            id_number::check_id_number(given, now)?;
            let clear = id_number::normalize_id_number(given);
            let hash = station.id_key.hash(&clear)?;
            let masked = id_number::mask_id_number(&clear);
            clear_id = Some((clear, hash));
            (Some(masked), Some(id_number::id_hash_field(&hash)))
        }
        (None, _) => (None, None),
    };
    // Blank is not a verification: it would let the employer's posts be approved.
    let verified_by = f
        .verified_by
        .map(|v| line("verified_by", &v, 1, 100))
        .transpose()?;
    let employer = Employer {
        name: required("name", f.name)?.trim().to_string(),
        kind,
        credit_code,
        id_masked,
        id_hash,
        contact: required("contact", f.contact)?.trim().to_string(),
        phone: required("phone", f.phone)?.trim().to_string(),
        address: f.address.map(|a| a.trim().to_string()),
        verified_at: verified_by.as_ref().map(|_| dates::rfc3339(now)),
        verified_by,
        status: EmployerStatus::Active,
        suspend_reason: None,
        region: station.region,
        created_at: dates::rfc3339(now),
    };
    employer.validate()?;
    Ok(NewEmployer { employer, clear_id })
}

/// The employer held here with this credit code, if any.
pub fn find_by_credit_code(station: &Station, code: &str) -> Result<Option<RecordState>> {
    for state in station
        .store
        .list(index::prefix(RecordKind::Employer, None), None)
    {
        let state = state?;
        if state.view.get("credit_code").and_then(|c| c.as_str()) == Some(code) {
            return Ok(Some(state));
        }
    }
    Ok(None)
}

/// `employer update ID …`: contact, phone, address, verification.
pub fn update(station: &mut Station, id: &str, f: EmployerFields) -> Result<Value> {
    let now = now_ms();
    if f.kind.is_some() || f.credit_code.is_some() || f.id_number.is_some() {
        return Err(NodeError::usage(
            "type",
            "type, credit code and ID number cannot change; register the employer anew",
            "类型、统一社会信用代码和身份证号不能修改；请重新登记",
        ));
    }
    let state = station.resolve(RecordKind::Employer, id)?;
    let before: Employer = typed(&state)?;
    let mut employer = before.clone();
    if let Some(n) = f.name {
        employer.name = n.trim().to_string();
    }
    if let Some(c) = f.contact {
        employer.contact = c.trim().to_string();
    }
    if let Some(p) = f.phone {
        employer.phone = p.trim().to_string();
    }
    if let Some(a) = f.address {
        employer.address = Some(a.trim().to_string());
    }
    if let Some(v) = f.verified_by {
        employer.verified_by = Some(line("verified_by", &v, 1, 100)?);
        employer.verified_at = Some(dates::rfc3339(now));
    }
    employer.validate()?;
    write_edits(station, &state, &before, &employer, now)?;
    Ok(json!({ "id": state.id().to_hex() }))
}

/// `employer suspend ID --reason T`: a station at or above the employer's may suspend it.
pub fn suspend(station: &mut Station, id: &str, reason: &str) -> Result<Value> {
    let now = now_ms();
    let state = station.resolve(RecordKind::Employer, id)?;
    if !station.region.contains(&state.region) {
        return Err(NodeError::usage(
            "id",
            "only the registering station or a station above it may suspend an employer",
            "只有登记站点或其上级站点可以暂停用工主体",
        ));
    }
    let before: Employer = typed(&state)?;
    let mut employer = before.clone();
    employer.status = EmployerStatus::Suspended;
    employer.suspend_reason = Some(paragraph("reason", reason, 1, 500)?);
    employer.validate()?;
    write_edits(station, &state, &before, &employer, now)?;
    Ok(json!({ "id": state.id().to_hex(), "status": employer.status.as_str() }))
}

fn row(state: &RecordState, e: &Employer) -> Value {
    json!({
        "id": state.id().to_hex(),
        "name": e.name,
        "type": e.kind.as_str(),
        "credit_code": e.credit_code,
        "id_masked": e.id_masked,
        "contact": e.contact,
        "phone": e.phone,
        "address": e.address,
        "status": e.status.as_str(),
        "suspend_reason": e.suspend_reason,
        "region": state.region.to_string(),
        "verified": e.verified_by.is_some(),
        "verified_by": e.verified_by,
        "verified_at": e.verified_at,
        "created_at": dates::rfc3339(state.created_ms),
    })
}

/// `employer list [--status active|suspended]`.
pub fn list(station: &Station, status: Option<&str>) -> Result<Value> {
    let status = status
        .map(|s| EmployerStatus::parse("status", s))
        .transpose()?;
    let mut rows = Vec::new();
    for state in station
        .store
        .list(index::prefix(RecordKind::Employer, None), None)
    {
        let state = state?;
        let Ok(e) = Employer::from_view(&state.view) else {
            continue;
        };
        if status.is_none_or(|s| s == e.status) {
            rows.push(row(&state, &e));
        }
    }
    Ok(Value::Array(rows))
}

/// `employer show ID`, with the complaints naming the employer (wage arrears and others) that
/// this station holds or that the employer's record carries a mark of.
pub fn show(station: &Station, id: &str) -> Result<Value> {
    let state = station.resolve(RecordKind::Employer, id)?;
    let e: Employer = typed(&state)?;
    let mut out = row(&state, &e);
    out["complaints"] = Value::Array(super::complaints_of_employer(station, &state)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::EmployerFields;
    use serde_json::json;

    /// The type travels as `type`, the name every error, the CSV column and `--type` use, so a
    /// refused type is shown next to the console's field; bodies written with `kind` still read.
    #[test]
    fn the_type_is_named_type_on_the_wire_and_kind_is_still_read() {
        let typed: EmployerFields =
            serde_json::from_value(json!({ "name": "甲", "type": "enterprise" })).unwrap();
        assert_eq!(typed.kind.as_deref(), Some("enterprise"));
        let old: EmployerFields = serde_json::from_value(json!({ "kind": "individual" })).unwrap();
        assert_eq!(old.kind.as_deref(), Some("individual"));
        let out = serde_json::to_value(&typed).unwrap();
        assert_eq!(out["type"], "enterprise");
        assert!(out.get("kind").is_none());
    }
}
