//! Unified social credit codes (统一社会信用代码, GB 32100-2015): validation and the
//! normalized form.
//!
//! Every employer a station publishes posts for (a company, an individual business, a
//! cooperative, a village collective, a public institution) has one 18-character code:
//!
//! | characters | what | rule checked here |
//! |---|---|---|
//! | 1 | registration authority (登记管理部门代码) | with character 2, a pair of [`AUTHORITY_TYPES`] |
//! | 2 | type of organization (机构类别代码) | see above |
//! | 3–8 | administrative division of the registering authority (登记管理机关行政区划码) | 6 digits: a province prefix, and no county part without a city part; `100000` for national registrations |
//! | 9–17 | the subject identifier, an organization code (主体标识码, GB 11714-1997) | characters 9–16 the body, character 17 its check character |
//! | 18 | check character (校验码) | GB 32100 MOD 31 |
//!
//! All 18 characters come from the 31-character alphabet [`ALPHABET`]: the digits and the
//! upper-case letters except I, O, Z, S and V (which look like 1, 0, 2, 5 and U).
//!
//! Two check characters protect a code:
//!
//! - **organization code (character 17)**, GB 11714: the body characters have the values
//!   0–9 for digits and A=10 … Z=35 for letters (their place in the Latin alphabet plus 9),
//!   weights `3 7 9 10 5 8 4 2`; the check is `11 − (Σ value × weight mod 11)`, written `X`
//!   for 10 and `0` for 11.
//! - **the whole code (character 18)**, GB 32100: each of characters 1–17 has its position in
//!   [`ALPHABET`] as value (so here `H`=17 but `J`=18, unlike GB 11714), weight `3^(i−1) mod 31`
//!   for character i; the check is the alphabet character at `31 − (Σ mod 31)`, and `0` when
//!   that is 31. Because 31 is prime and no weight is a multiple of it, every single-character
//!   substitution and every swap of two neighbouring different characters changes the check.
//!
//! [`check_credit_code`] trims the input and upper-cases it (codes are often typed in lower
//! case); nothing else is repaired.

use crate::error::{Error, Result};
use crate::region::RegionCode;

/// The 31 characters of a credit code, in the order of their values 0–30.
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The registration authority (character 1) and organization type (character 2) pairs of GB
/// 32100-2015 table 1, plus two authorities added after 2015 that village-level gig work meets
/// every day: `A` (military reform and establishment office) and `N` (agriculture and rural
/// affairs: village and township collective economic organizations, issued since 2018).
pub const AUTHORITY_TYPES: &[(char, char, &str)] = &[
    ('1', '1', "机构编制 机关"),
    ('1', '2', "机构编制 事业单位"),
    ('1', '3', "机构编制 中央编办直接管理机构编制的群众团体"),
    ('1', '9', "机构编制 其他"),
    ('2', '1', "外交 外国常驻新闻机构"),
    ('2', '9', "外交 其他"),
    ('3', '1', "司法行政 律师执业机构"),
    ('3', '2', "司法行政 公证处"),
    ('3', '3', "司法行政 基层法律服务所"),
    ('3', '4', "司法行政 司法鉴定机构"),
    ('3', '5', "司法行政 仲裁委员会"),
    ('3', '9', "司法行政 其他"),
    ('4', '1', "文化 外国在华文化中心"),
    ('4', '9', "文化 其他"),
    ('5', '1', "民政 社会团体"),
    ('5', '2', "民政 民办非企业单位"),
    ('5', '3', "民政 基金会"),
    ('5', '9', "民政 其他"),
    ('6', '1', "旅游 外国旅游部门常驻代表机构"),
    ('6', '2', "旅游 港澳台地区旅游部门常驻内地（大陆）代表机构"),
    ('6', '9', "旅游 其他"),
    ('7', '1', "宗教 宗教活动场所"),
    ('7', '2', "宗教 宗教院校"),
    ('7', '9', "宗教 其他"),
    ('8', '1', "工会 基层工会"),
    ('8', '9', "工会 其他"),
    ('9', '1', "工商 企业"),
    ('9', '2', "工商 个体工商户"),
    ('9', '3', "工商 农民专业合作社"),
    ('A', '1', "中央军委改革和编制办公室 军队事业单位"),
    ('A', '9', "中央军委改革和编制办公室 其他"),
    ('N', '1', "农业 组级集体经济组织"),
    ('N', '2', "农业 村级集体经济组织"),
    ('N', '3', "农业 乡镇级集体经济组织"),
    ('N', '9', "农业 其他"),
    ('Y', '1', "其他"),
];

/// The division code of registrations made at national level (characters 3–8).
const NATIONAL_DIVISION: &str = "100000";

/// GB 11714 weights of the 8 body characters of an organization code.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The value of a character in [`ALPHABET`], if it is one.
fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

/// GB 32100 weight of character `i` (0-based): `3^i mod 31`.
fn weight(i: usize) -> u32 {
    (0..i).fold(1, |w, _| w * 3 % 31)
}

/// The GB 32100 check character (character 18) of the first 17 characters, or `None` if one
/// of them is not in [`ALPHABET`] or there are not 17.
pub fn check_character(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut n = 0;
    for (i, c) in first17.chars().enumerate() {
        sum += value(c)? * weight(i);
        n += 1;
    }
    if n != 17 {
        return None;
    }
    let check = (31 - sum % 31) % 31;
    ALPHABET.chars().nth(check as usize)
}

/// The GB 11714 check character of an organization code's 8 body characters (digits and
/// upper-case letters), or `None` if `body` is not 8 such characters.
pub fn org_check_character(body: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut n = 0;
    for (c, w) in body.chars().zip(ORG_WEIGHTS) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return None,
        };
        sum += v * w;
        n += 1;
    }
    if n != 8 || body.chars().count() != 8 {
        return None;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).expect("below 10"),
    })
}

/// The code as stored: surrounding whitespace removed, letters upper-cased.
pub fn normalize_credit_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// True if characters 3–8 name an administrative division: `100000` (national), or a
/// province prefix followed by a city part and a county part that are not zero, except that
/// trailing parts may be `00` (a province-level or city-level authority: `520000`, `520100`).
fn is_division(d: &str) -> bool {
    if d == NATIONAL_DIVISION {
        return true;
    }
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let significant = if &d[2..] == "0000" {
        &d[..2]
    } else if &d[4..] == "00" {
        &d[..4]
    } else {
        d
    };
    RegionCode::parse(significant).is_ok()
}

/// Checks an 18-character unified social credit code and returns it normalized (trimmed,
/// upper-case). The checks run in the order of the module's table; the first failure is
/// reported, naming the field `credit_code`.
pub fn check_credit_code(code: &str) -> Result<String> {
    let bad = |rule: String, rule_zh: String| Err(Error::invalid("credit_code", rule, rule_zh));
    let code = normalize_credit_code(code);
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return bad(
            format!("must be 18 characters, not {}", chars.len()),
            format!("必须为 18 位，而不是 {} 位", chars.len()),
        );
    }
    if let Some((i, c)) = chars.iter().enumerate().find(|(_, c)| value(**c).is_none()) {
        return bad(
            format!(
                "character {} ({c}) is not allowed: only digits and the upper-case letters other than I, O, Z, S and V",
                i + 1
            ),
            format!(
                "第 {} 位“{c}”不是允许的字符：只能是数字和除 I、O、Z、S、V 以外的大写字母",
                i + 1
            ),
        );
    }
    let (authority, kind) = (chars[0], chars[1]);
    if !AUTHORITY_TYPES
        .iter()
        .any(|&(a, k, _)| a == authority && k == kind)
    {
        return bad(
            format!(
                "characters 1-2 ({authority}{kind}) are not a registration authority and organization type of GB 32100 (for example 91 for a company, 92 for an individual business, 93 for a cooperative, N2 for a village collective)"
            ),
            format!(
                "第 1 至 2 位“{authority}{kind}”不是国家标准规定的登记管理部门和机构类别代码（例如企业 91、个体工商户 92、农民专业合作社 93、村级集体经济组织 N2）"
            ),
        );
    }
    let division = &code[2..8];
    if !is_division(division) {
        return bad(
            format!("characters 3-8 ({division}) must be an administrative division code"),
            format!("第 3 至 8 位“{division}”必须是行政区划代码"),
        );
    }
    let org_check = org_check_character(&code[8..16]).expect("checked: 8 alphabet characters");
    if chars[16] != org_check {
        return bad(
            format!(
                "character 17 must be {org_check} (check character of the organization code, characters 9-17, GB 11714)"
            ),
            format!("第 17 位应为 {org_check}（第 9 至 17 位组织机构代码的校验码）"),
        );
    }
    let check = check_character(&code[..17]).expect("checked: 17 alphabet characters");
    if chars[17] != check {
        return bad(
            format!("the last character must be {check} (check character)"),
            format!("最后一位校验码应为 {check}"),
        );
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (64-bit LCG, Knuth's constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, below: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % below as u64) as usize
        }
    }

    const DIVISIONS: &[&str] = &[
        "520000", "520100", "520102", "520115", "522301", "522631", "100000", "110108", "440300",
    ];

    /// Builds a valid code: a random authority/type pair, division, organization code body, and
    /// both check characters computed.
    fn generate(rng: &mut Lcg) -> String {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        let (a, k, _) = AUTHORITY_TYPES[rng.next(AUTHORITY_TYPES.len())];
        let mut code = format!("{a}{k}{}", DIVISIONS[rng.next(DIVISIONS.len())]);
        let body: String = (0..8).map(|_| alphabet[rng.next(31)]).collect();
        code.push_str(&body);
        code.push(org_check_character(&body).unwrap());
        code.push(check_character(&code).unwrap());
        code
    }

    fn rule_of(result: Result<String>) -> String {
        match result {
            Err(Error::InvalidField { field, rule, .. }) => {
                assert_eq!(field, "credit_code");
                rule
            }
            other => panic!("expected an invalid credit_code, got {other:?}"),
        }
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let w: Vec<u32> = (0..17).map(weight).collect();
        assert_eq!(
            w,
            [
                1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
            ]
        );
    }

    #[test]
    fn published_codes_pass() {
        // Codes recalled from public registrations (the first is the worked example printed in
        // GB 32100-2015). They are checked here only by their own two independent check
        // characters, which a mis-remembered code passes with a chance of about 1 in 341.
        for code in [
            "91350100M000100Y43",
            "9144030071526726XG",
            "91330100716105852F",
            "914403001922038216",
            "12100000400002259P",
        ] {
            assert_eq!(check_credit_code(code).unwrap(), code);
        }
    }

    #[test]
    fn input_is_trimmed_and_upper_cased() {
        assert_eq!(
            check_credit_code("  9144030071526726xg\n").unwrap(),
            "9144030071526726XG"
        );
    }

    #[test]
    fn generated_codes_pass_and_every_substitution_is_refused() {
        let alphabet: Vec<char> = ALPHABET.chars().collect();
        let mut rng = Lcg(52);
        for _ in 0..200 {
            let code = generate(&mut rng);
            assert_eq!(check_credit_code(&code).unwrap(), code, "{code}");
            let chars: Vec<char> = code.chars().collect();
            for i in 0..18 {
                for &c in &alphabet {
                    if c == chars[i] {
                        continue;
                    }
                    let mut flipped = chars.clone();
                    flipped[i] = c;
                    let flipped: String = flipped.into_iter().collect();
                    assert!(check_credit_code(&flipped).is_err(), "{code} -> {flipped}");
                }
            }
        }
    }

    #[test]
    fn neighbour_swaps_are_refused() {
        let mut rng = Lcg(7);
        for _ in 0..200 {
            let code = generate(&mut rng);
            let chars: Vec<char> = code.chars().collect();
            for i in 0..17 {
                if chars[i] == chars[i + 1] {
                    continue;
                }
                let mut swapped = chars.clone();
                swapped.swap(i, i + 1);
                let swapped: String = swapped.into_iter().collect();
                assert!(check_credit_code(&swapped).is_err(), "{code} -> {swapped}");
            }
        }
    }

    #[test]
    fn the_last_character_error_names_the_right_one() {
        let rule = rule_of(check_credit_code("91350100M000100Y40"));
        assert_eq!(rule, "the last character must be 3 (check character)");
        match check_credit_code("91350100M000100Y40") {
            Err(e) => assert_eq!(e.message_zh(), "credit_code：最后一位校验码应为 3"),
            Ok(_) => unreachable!(),
        }
    }

    #[test]
    fn organization_code_check_is_reported() {
        // Character 17 changed and character 18 recomputed: only the GB 11714 check fails.
        let mut code = String::from("91350100M000100Y");
        code.push('5');
        code.push(check_character(&code).unwrap());
        let rule = rule_of(check_credit_code(&code));
        assert!(rule.starts_with("character 17 must be 4"), "{rule}");
    }

    #[test]
    fn length_charset_authority_and_division_are_reported() {
        assert!(rule_of(check_credit_code("")).contains("18 characters"));
        assert!(rule_of(check_credit_code("91350100M000100Y4")).contains("18 characters"));
        for (code, bad) in [
            ("91350100I000100Y43", "character 9 (I)"),
            ("91350100O000100Y43", "character 9 (O)"),
            ("91350100S000100Y43", "character 9 (S)"),
            ("91350100V000100Y43", "character 9 (V)"),
            ("9135010OM000100Y43", "character 8 (O)"),
            ("91350100M0001-0Y43", "character 14 (-)"),
            ("9135０100M000100Y43", "character 5 (０)"),
        ] {
            assert!(rule_of(check_credit_code(code)).starts_with(bad), "{code}");
        }
        for pair in ["00", "10", "94", "99", "B1", "N4", "Y2"] {
            let rule = rule_of(check_credit_code(&format!("{pair}350100M000100Y43")));
            assert!(
                rule.starts_with(&format!("characters 1-2 ({pair})")),
                "{rule}"
            );
        }
        for division in ["000000", "990000", "520001", "52A100", "100100"] {
            let rule = rule_of(check_credit_code(&format!("91{division}M000100Y43")));
            assert!(
                rule.starts_with(&format!("characters 3-8 ({division})")),
                "{rule}"
            );
        }
    }

    #[test]
    fn divisions_at_every_level_are_accepted() {
        for d in ["100000", "520000", "520100", "520102", "469001", "110000"] {
            assert!(is_division(d), "{d}");
        }
        for d in ["000000", "520001", "000100", "720000", "5201A0"] {
            assert!(!is_division(d), "{d}");
        }
    }

    #[test]
    fn org_check_matches_gb_11714_examples() {
        // The organization codes inside two of the published codes: M000100Y-4, 71526726-X.
        assert_eq!(org_check_character("M000100Y"), Some('4'));
        assert_eq!(org_check_character("71526726"), Some('X'));
        assert_eq!(org_check_character("1922038"), None);
        assert_eq!(org_check_character("1922038a"), None);
    }
}
