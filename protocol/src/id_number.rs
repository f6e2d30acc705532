//! Resident ID numbers (GB 11643-1999): validation, the masked form shown to other nodes, and
//! the keyed, memory-hard hash that worker records carry for de-duplication.
//!
//! The clear number never enters a record. A worker record carries two things derived from it:
//!
//! - `id_masked` ([`mask_id_number`]): the first two characters (the province of issue) and the
//!   last one (the check digit), `52***************5`. The region of issue (characters 3–6),
//!   the birth date (7–14) and the sequence number (15–17) are hidden: what is left to guess is
//!   every region code of the province × every birth date × 1,000 sequence numbers, less the
//!   ×11 the visible check digit takes off (SECURITY.md has the arithmetic).
//! - `id_hash` ([`id_hash_field`]): `v2:` and the hex of argon2id over the normalised number,
//!   keyed (argon2's secret input `K`) by a key that is never derived from anything public: the
//!   node's own random `id.secret`, or a secret the province hands its stations out of band.
//!   Without the key, the hash says nothing a search can use; with it, every guess costs one
//!   argon2id evaluation at [`IdHashParams::V2`] (64 MiB, 3 passes).
//!
//! Version 1 (HMAC-SHA256 keyed by `"lingong/id-hash/v1:"` ‖ the province root public key, and
//! a mask that left only the 8 birth-date digits unknown) let any holder of a record recover the
//! number by trying every birth date; records written by v1 nodes keep those fields in their
//! history. See SECURITY.md.

use crate::canon::Hash32;
use crate::dates;
use crate::error::{Error, Result};

/// ISO 7064 MOD 11-2 weights of the first 17 characters.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each weighted sum modulo 11.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// The earliest birth date accepted: 1900-01-01.
pub const EARLIEST_BIRTH: (i64, u32, u32) = (1900, 1, 1);

/// The number as stored and hashed: surrounding space removed, a final `x` upper-cased.
pub fn normalize_id_number(id: &str) -> String {
    id.trim().to_ascii_uppercase()
}

/// Checks an 18-character resident ID number at `now_ms` (its birth date must not lie after
/// today in China Standard Time): 17 digits, of which characters 7–14 are a real birth date
/// `YYYYMMDD` from 1900-01-01 on, then the GB 11643 check digit or `X` (ISO 7064 MOD 11-2).
pub fn check_id_number(id: &str, now_ms: i64) -> Result<()> {
    let bad = |rule: String, rule_zh: String| Err(Error::invalid("id_number", rule, rule_zh));
    let id = normalize_id_number(id);
    let chars: Vec<char> = id.chars().collect();
    if chars.len() != 18 {
        return bad("must be 18 characters".into(), "必须为 18 位".into());
    }
    if !chars[..17].iter().all(|c| c.is_ascii_digit()) {
        return bad(
            "the first 17 characters must be digits".into(),
            "前 17 位必须是数字".into(),
        );
    }
    let digits =
        |from: usize, to: usize| -> i64 { id[from..to].parse().expect("checked: ASCII digits") };
    let (y, m, d) = (digits(6, 10), digits(10, 12) as u32, digits(12, 14) as u32);
    let birth = dates::days_from_civil(y, m, d);
    if !(1..=12).contains(&m) || d == 0 || dates::civil_from_days(birth) != (y, m, d) {
        return bad(
            format!(
                "characters 7-14 must be a real birth date YYYYMMDD, and {} is not",
                &id[6..14]
            ),
            format!(
                "第 7 至 14 位必须是真实的出生日期（年月日），{} 不是",
                &id[6..14]
            ),
        );
    }
    let (ey, em, ed) = EARLIEST_BIRTH;
    if birth < dates::days_from_civil(ey, em, ed) {
        return bad(
            "the birth date (characters 7-14) must not be before 1900-01-01".into(),
            "出生日期（第 7 至 14 位）不能早于 1900-01-01".into(),
        );
    }
    if birth > dates::today_cst(now_ms) {
        return bad(
            "the birth date (characters 7-14) must not be after today".into(),
            "出生日期（第 7 至 14 位）不能晚于今天".into(),
        );
    }
    if check_char(&id[..17]) != chars[17] {
        return bad(
            "the check digit (last character) is wrong".into(),
            "校验位（最后一位）不正确".into(),
        );
    }
    Ok(())
}

/// The GB 11643 check character of 17 digits (a non-digit counts as 0).
fn check_char(first17: &str) -> char {
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// The completed ID number for 17 leading digits (used by the demo, the simulator and tests).
pub fn complete_id_number(first17: &str) -> String {
    format!("{first17}{}", check_char(first17))
}

/// How many leading characters [`mask_id_number`] shows: the province of issue.
pub const MASK_SHOWS_FIRST: usize = 2;
/// How many trailing characters [`mask_id_number`] shows: the check digit.
pub const MASK_SHOWS_LAST: usize = 1;

/// `52***************X`: the first two characters (province of issue) and the check digit only.
/// The region of issue, the birth date and the sequence number (and with it the sex) are hidden.
/// Applied to an older, wider mask (`520102********123X`) it gives the same narrow form.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = normalize_id_number(id).chars().collect();
    if chars.len() < MASK_SHOWS_FIRST + MASK_SHOWS_LAST + 8 {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - MASK_SHOWS_FIRST - MASK_SHOWS_LAST;
    let mut out: String = chars[..MASK_SHOWS_FIRST].iter().collect();
    out.push_str(&"*".repeat(hidden));
    out.extend(&chars[chars.len() - MASK_SHOWS_LAST..]);
    out
}

/// The argon2id cost of one ID hash, and so of one guess by whoever holds the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdHashParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over the memory.
    pub t: u32,
    /// Lanes (1: no threads, the protocol crate is pure).
    pub p: u32,
}

impl IdHashParams {
    /// The parameters of `id_hash` version 2: 64 MiB, 3 passes, 1 lane (RFC 9106's second
    /// recommended setting, in one lane). A station pays it once per registration; whoever
    /// holds the key pays it for every guess. Measured: SECURITY.md (`cargo bench -p
    /// lingong-protocol --bench id_hash`), about 10 times OWASP's 19 MiB, 2 passes here.
    pub const V2: IdHashParams = IdHashParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
}

/// The version tag that starts every `id_hash` value this code writes.
pub const ID_HASH_PREFIX: &str = "v2:";
/// Argon2's salt input for version 2: fixed, so equal numbers hash equally under one key (the
/// key, not the salt, is what an outsider lacks).
pub const ID_HASH_SALT: &[u8] = b"lingong/id-hash/v2";
/// The shortest key accepted: 128 bits.
pub const MIN_ID_HASH_KEY_BYTES: usize = 16;

/// argon2id(password = the normalised number, salt = [`ID_HASH_SALT`], secret = `key`,
/// [`IdHashParams::V2`], 32-byte tag). Equal for the same person under the same key; without
/// the key, no guess can be tested.
pub fn id_number_hash(key: &[u8], id: &str) -> Result<Hash32> {
    id_number_hash_with(IdHashParams::V2, key, id)
}

/// [`id_number_hash`] with other parameters (the benchmark compares a few).
pub fn id_number_hash_with(params: IdHashParams, key: &[u8], id: &str) -> Result<Hash32> {
    if key.len() < MIN_ID_HASH_KEY_BYTES {
        return Err(Error::invalid(
            "id_hash_key",
            format!("must be at least {MIN_ID_HASH_KEY_BYTES} bytes"),
            format!("至少为 {MIN_ID_HASH_KEY_BYTES} 字节"),
        ));
    }
    let failed = |e: argon2::Error| {
        Error::invalid(
            "id_hash",
            format!("argon2id failed: {e}"),
            format!("argon2id 计算失败：{e}"),
        )
    };
    let argon_params =
        argon2::Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(failed)?;
    let argon = argon2::Argon2::new_with_secret(
        key,
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    )
    .map_err(failed)?;
    let mut out = [0u8; 32];
    argon
        .hash_password_into(normalize_id_number(id).as_bytes(), ID_HASH_SALT, &mut out)
        .map_err(failed)?;
    Ok(out)
}

/// The `id_hash` field value of a hash: `v2:` and 64 lower-case hex digits.
pub fn id_hash_field(hash: &Hash32) -> String {
    format!("{ID_HASH_PREFIX}{}", hex::encode(hash))
}

/// The hash in a version-2 `id_hash` field value; `None` for another version or a bad value.
pub fn parse_id_hash_field(value: &str) -> Option<Hash32> {
    let hex_part = value.strip_prefix(ID_HASH_PREFIX)?;
    hex::decode(hex_part).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-15T04:00:00Z, noon in Guizhou.
    const NOW_MS: i64 = 1_768_449_600_000;

    fn field_of(e: Error) -> &'static str {
        match e {
            Error::InvalidField { field, .. } => field,
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn the_check_digit_is_enforced() {
        let id = complete_id_number("52010219800101123");
        check_id_number(&id, NOW_MS).expect("valid");
        let mut wrong = id.clone();
        wrong.replace_range(17.., if id.ends_with('0') { "1" } else { "0" });
        let e = check_id_number(&wrong, NOW_MS).expect_err("bad check digit");
        assert!(e.to_string().contains("check digit"), "{e}");
        assert_eq!(field_of(e), "id_number");
        let x = complete_id_number("52262219700101001");
        if x.ends_with('X') {
            check_id_number(&x.to_lowercase(), NOW_MS).expect("a lower-case x is accepted");
        }
    }

    #[test]
    fn impossible_birth_dates_are_refused_naming_id_number() {
        let with_birth = |date: &str| complete_id_number(&format!("520102{date}123"));
        for (date, why) in [
            ("19801301", "month 13"),
            ("19800001", "month 00"),
            ("19800132", "day 32"),
            ("19800100", "day 00"),
            ("19800230", "February 30"),
            ("19810229", "February 29 of a common year"),
            ("19000229", "1900 was not a leap year"),
            ("19800431", "April 31"),
            ("18991231", "before 1900"),
            ("20260116", "tomorrow in Guizhou"),
            ("21000101", "the future"),
        ] {
            let e = check_id_number(&with_birth(date), NOW_MS).expect_err(why);
            let text = e.to_string();
            assert!(
                text.contains("id_number") && text.contains("birth date"),
                "{why}: {text}"
            );
            let Error::InvalidField { rule_zh, .. } = &e else {
                panic!("{why}: not a field error");
            };
            assert!(rule_zh.contains("出生日期"), "{why}: {rule_zh}");
        }
        for date in ["19000101", "20000229", "19800131", "20260115"] {
            check_id_number(&with_birth(date), NOW_MS).unwrap_or_else(|e| panic!("{date}: {e}"));
        }
    }

    #[test]
    fn the_mask_shows_only_the_province_and_the_check_digit() {
        let id = complete_id_number("52262219700101234");
        let masked = mask_id_number(&id);
        assert_eq!(masked.len(), 18);
        assert_eq!(masked, format!("52{}{}", "*".repeat(15), &id[17..]));
        for hidden in [&id[2..6], &id[6..14], &id[14..17]] {
            assert!(!masked.contains(hidden), "{hidden} visible in {masked}");
        }
        assert_eq!(
            mask_id_number(&format!("  {}  ", id.to_lowercase())),
            masked
        );
        let old_mask = format!("{}********{}", &id[..6], &id[14..]);
        assert_eq!(mask_id_number(&old_mask), masked, "an old mask is narrowed");
    }

    #[test]
    fn the_hash_is_versioned_keyed_and_normalised() {
        let id = complete_id_number("52262219700101234");
        let key = [7u8; 32];
        let h = id_number_hash(&key, &id).expect("hash");
        assert_eq!(
            id_number_hash(&key, &format!(" {} ", id.to_lowercase())).expect("hash"),
            h
        );
        assert_ne!(id_number_hash(&[8u8; 32], &id).expect("hash"), h, "keyed");
        let other = complete_id_number("52262219700102234");
        assert_ne!(id_number_hash(&key, &other).expect("hash"), h);
        let field = id_hash_field(&h);
        assert!(field.starts_with("v2:") && field.len() == 3 + 64, "{field}");
        assert_eq!(parse_id_hash_field(&field), Some(h));
        assert_eq!(
            parse_id_hash_field(&hex::encode(h)),
            None,
            "an untagged value"
        );
        let e = id_number_hash(&[1u8; 15], &id).expect_err("a short key");
        assert_eq!(field_of(e), "id_hash_key");
    }
}
