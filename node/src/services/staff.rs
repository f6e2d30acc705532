//! Local accounts of the station: staff members who log in to the web console, and API tokens
//! for partner platforms and the bureau's systems. Both are rows of the store's local `U` table
//! (`crate::store`), never replicated: an account belongs to one node.
//!
//! - A staff member has a name, a [`Role`] and a password hashed with argon2id (19 MiB, two
//!   passes, one lane, a random 16-byte salt per password; the raw hash is kept, compared in
//!   constant time). `staff add` and `staff passwd` without a password make one (12 characters
//!   from an alphabet without look-alikes) and show it once.
//! - A token has a name and a role; the token itself (`lgt_` and 43 base58 characters, 32
//!   random bytes) is shown once by `token add` and kept only as its SHA-256.
//!
//! What each role may ask is decided in `crate::http::auth::allowed`; this file only keeps the
//! accounts.

use crate::error::{NodeError, Result};
use crate::station::{Station, now_ms};
use lingong_protocol::dates;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a staff member or a token may do: each role may do what the one before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 经办员: posts, workers, employers, matching, placements.
    Clerk,
    /// 审核员: and the authenticity review.
    Reviewer,
    /// 监督员: and oversight (complaints, reports, supervision, audit, the directory entry).
    Supervisor,
    /// 管理员: everything, staff accounts and tokens included.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Clerk, Role::Reviewer, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Clerk => "经办员",
            Role::Reviewer => "审核员",
            Role::Supervisor => "监督员",
            Role::Admin => "管理员",
        }
    }

    pub fn parse(value: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == value.trim())
            .ok_or_else(|| {
                NodeError::usage(
                    "role",
                    "must be clerk, reviewer, supervisor or admin",
                    "必须是 clerk（经办员）、reviewer（审核员）、supervisor（监督员）或 admin（管理员）",
                )
            })
    }
}

/// A password or token as it travels in a request: `Debug` never shows it.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

const STAFF: u8 = b's';
const TOKENS: u8 = b't';

/// A staff member's row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaffAccount {
    pub role: Role,
    /// Hex of the 16-byte salt and of the 32-byte argon2id output.
    salt: String,
    hash: String,
    m_kib: u32,
    t: u32,
    pub created_at: String,
    pub password_set_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct TokenRow {
    role: Role,
    /// Hex of the token's SHA-256.
    sha256: String,
    created_at: String,
}

/// Argon2id cost of a password: OWASP's first recommended setting.
const PASSWORD_M_KIB: u32 = 19 * 1024;
const PASSWORD_T: u32 = 2;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| NodeError::Io {
        path: "getrandom".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(out)
}

/// Random bytes for sessions and CSRF tokens.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    random()
}

fn argon(password: &str, salt: &[u8], m_kib: u32, t: u32) -> Result<[u8; 32]> {
    let failed = |e: argon2::Error| NodeError::usage("password", e.to_string(), e.to_string());
    let params = argon2::Params::new(m_kib, t, 1, Some(32)).map_err(failed)?;
    let mut out = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(failed)?;
    Ok(out)
}

/// Equal bytes, in time that does not depend on where they differ.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > 32 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(NodeError::usage(
            "name",
            "must be 1 to 32 characters without spaces",
            "必须是 1 到 32 个字符，不含空格",
        ));
    }
    Ok(name.to_string())
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(NodeError::usage(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            format!("至少 {MIN_PASSWORD_CHARS} 个字符"),
        ));
    }
    if password.chars().count() > 256 {
        return Err(NodeError::usage(
            "password",
            "must be at most 256 characters",
            "不能超过 256 个字符",
        ));
    }
    Ok(())
}

/// A password of 12 characters from an alphabet without look-alikes (no 0/O, 1/l/I).
fn generated_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    Ok(random::<12>()?
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

fn new_account(role: Role, password: &str, created_at: String) -> Result<StaffAccount> {
    check_password(password)?;
    let salt = random::<16>()?;
    let hash = argon(password, &salt, PASSWORD_M_KIB, PASSWORD_T)?;
    Ok(StaffAccount {
        role,
        salt: hex::encode(salt),
        hash: hex::encode(hash),
        m_kib: PASSWORD_M_KIB,
        t: PASSWORD_T,
        created_at,
        password_set_at: dates::rfc3339(now_ms()),
    })
}

fn put_staff(station: &Station, name: &str, account: &StaffAccount) -> Result<()> {
    let bytes = serde_json::to_vec(account).expect("serializable");
    Ok(station.store.put_account(STAFF, name, Some(&bytes))?)
}

/// The account of a staff member, if there is one.
pub fn staff(station: &Station, name: &str) -> Result<Option<StaffAccount>> {
    Ok(station
        .store
        .account(STAFF, name.trim())?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// True when `password` is the account's (an argon2id evaluation: call it without holding the
/// station).
pub fn verify_password(account: &StaffAccount, password: &str) -> bool {
    let (Ok(salt), Ok(hash)) = (hex::decode(&account.salt), hex::decode(&account.hash)) else {
        return false;
    };
    match argon(password, &salt, account.m_kib, account.t) {
        Ok(out) => same_bytes(&out, &hash),
        Err(_) => false,
    }
}

/// `staff add --name N --role R [--password-stdin]`: without a password, one is made and shown
/// once.
pub fn add(station: &Station, name: &str, role: &str, password: Option<&str>) -> Result<Value> {
    let name = check_name(name)?;
    let role = Role::parse(role)?;
    if staff(station, &name)?.is_some() {
        return Err(NodeError::usage(
            "name",
            format!("a staff member named {name} exists already"),
            format!("已有名为 {name} 的工作人员"),
        ));
    }
    let made = match password {
        Some(_) => None,
        None => Some(generated_password()?),
    };
    let account = new_account(
        role,
        password.or(made.as_deref()).unwrap_or_default(),
        dates::rfc3339(now_ms()),
    )?;
    put_staff(station, &name, &account)?;
    let mut out = json!({ "name": name, "role": role.as_str() });
    if let Some(p) = made {
        out["password"] = json!(p);
    }
    Ok(out)
}

/// `staff list`: names, roles, dates (never a hash).
pub fn list(station: &Station) -> Result<Value> {
    let mut rows = Vec::new();
    for (name, bytes) in station.store.accounts(STAFF)? {
        if let Ok(a) = serde_json::from_slice::<StaffAccount>(&bytes) {
            rows.push(json!({
                "name": name,
                "role": a.role.as_str(),
                "created_at": a.created_at,
                "password_set_at": a.password_set_at,
            }));
        }
    }
    Ok(Value::Array(rows))
}

/// `staff passwd NAME [--password-stdin]`: a new password (made and shown once when not given).
/// Sessions opened with the old password end at their next request.
pub fn passwd(station: &Station, name: &str, password: Option<&str>) -> Result<Value> {
    let Some(old) = staff(station, name)? else {
        return Err(not_found("staff", name));
    };
    let made = match password {
        Some(_) => None,
        None => Some(generated_password()?),
    };
    let account = new_account(
        old.role,
        password.or(made.as_deref()).unwrap_or_default(),
        old.created_at,
    )?;
    put_staff(station, name.trim(), &account)?;
    let mut out = json!({ "name": name.trim(), "role": account.role.as_str() });
    if let Some(p) = made {
        out["password"] = json!(p);
    }
    Ok(out)
}

fn not_found(what: &'static str, name: &str) -> NodeError {
    NodeError::NotFound {
        what,
        id: name.trim().to_string(),
    }
}

/// `staff remove NAME`.
pub fn remove(station: &Station, name: &str) -> Result<Value> {
    if staff(station, name)?.is_none() {
        return Err(not_found("staff", name));
    }
    station.store.put_account(STAFF, name.trim(), None)?;
    Ok(json!({ "name": name.trim(), "removed": true }))
}

fn token_hash(token: &str) -> String {
    hex::encode(lingong_protocol::canon::sha256(token.trim().as_bytes()))
}

/// `token add --name N --role R`: the token is in the answer, and nowhere else ever again.
pub fn token_add(station: &Station, name: &str, role: &str) -> Result<Value> {
    let name = check_name(name)?;
    let role = Role::parse(role)?;
    if station.store.account(TOKENS, &name)?.is_some() {
        return Err(NodeError::usage(
            "name",
            format!("a token named {name} exists already"),
            format!("已有名为 {name} 的令牌"),
        ));
    }
    let token = format!("lgt_{}", bs58_encode(&random::<32>()?));
    let row = TokenRow {
        role,
        sha256: token_hash(&token),
        created_at: dates::rfc3339(now_ms()),
    };
    let bytes = serde_json::to_vec(&row).expect("serializable");
    station.store.put_account(TOKENS, &name, Some(&bytes))?;
    Ok(json!({ "name": name, "role": role.as_str(), "token": token }))
}

/// `token list`: names, roles, dates (never the token).
pub fn token_list(station: &Station) -> Result<Value> {
    let mut rows = Vec::new();
    for (name, bytes) in station.store.accounts(TOKENS)? {
        if let Ok(t) = serde_json::from_slice::<TokenRow>(&bytes) {
            rows.push(json!({ "name": name, "role": t.role.as_str(), "created_at": t.created_at }));
        }
    }
    Ok(Value::Array(rows))
}

/// `token revoke NAME`: the token stops working at once.
pub fn token_revoke(station: &Station, name: &str) -> Result<Value> {
    if station.store.account(TOKENS, name.trim())?.is_none() {
        return Err(not_found("token", name));
    }
    station.store.put_account(TOKENS, name.trim(), None)?;
    Ok(json!({ "name": name.trim(), "revoked": true }))
}

/// The name and role of the token `token`, if it is one of this node's.
pub fn token_role(station: &Station, token: &str) -> Result<Option<(String, Role)>> {
    let wanted = token_hash(token);
    for (name, bytes) in station.store.accounts(TOKENS)? {
        if let Ok(t) = serde_json::from_slice::<TokenRow>(&bytes)
            && same_bytes(t.sha256.as_bytes(), wanted.as_bytes())
        {
            return Ok(Some((name, t.role)));
        }
    }
    Ok(None)
}

/// Base58 (Bitcoin alphabet) without a dependency: tokens only.
fn bs58_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &b in bytes {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_and_another_does_not() {
        let a = new_account(Role::Clerk, "correct horse", "t".into()).unwrap();
        assert!(verify_password(&a, "correct horse"));
        assert!(!verify_password(&a, "correct hors"));
        assert!(new_account(Role::Clerk, "short", "t".into()).is_err());
    }

    #[test]
    fn roles_parse_and_order() {
        assert_eq!(Role::parse("reviewer").unwrap(), Role::Reviewer);
        assert!(Role::parse("boss").is_err());
        assert!(Role::Clerk < Role::Reviewer && Role::Supervisor < Role::Admin);
        assert_eq!(format!("{:?}", Secret("x".into())), "Secret(***)");
    }
}
