//! The automatic checks a reviewer sees before approving a job post (真实性审查):
//! [`check_post`] turns a post into a list of [`Finding`]s.
//!
//! A finding is a hint, not a verdict: the reviewer approves or rejects. Each finding names its
//! rule id, the phrase or figure that triggered it, and a message in English and Chinese that
//! says which law or rule the post seems to break.
//!
//! | rule | fires on |
//! |---|---|
//! | `discrimination-gender` | a gender restriction or preference: 招男工, 限男性, 只招女, 男性优先, 女性免谈 … |
//! | `discrimination-age` | an upper age limit: 45岁以下, 年龄18-35, 限35岁, 年龄不超过, 50岁以上勿扰 …; the reviewer judges whether the work justifies it |
//! | `discrimination-ethnicity` | 限汉族, 少数民族勿扰 … |
//! | `discrimination-household` | a household-registration or home-place restriction: 限本地户口, 本地人优先, 外地人免谈, 限城镇户口, any 限…户口 … |
//! | `discrimination-disability` | 身体残疾者勿扰, 限健全人 … |
//! | `discrimination-marriage` | marriage, pregnancy or children as a condition: 限未婚, 已婚已育优先, 孕妇勿扰 … |
//! | `discrimination-health` | exclusion of carriers of hepatitis B (and HIV): 乙肝勿扰, 乙肝五项 … |
//! | `wage-below-minimum` | a wage per hour, day or month below [`MinimumWages::floor`] for the post's region |
//! | `wage-implausible` | a wage above [`IMPLAUSIBLE_MULTIPLE`] × that floor (for pieces, or where there is no floor: above half the schema's cap for the unit) |
//! | `contact-missing` | a contact field without a phone number: an 11-digit mobile number `1[3-9]…` (`+86` allowed) or a landline with its area code (`0851-8681234`, `(0851)86812345`, `085186812345`) or a 400/800 number |
//!
//! # Matching
//!
//! Phrases are data ([`PHRASES`]) matched on the normalized title and description
//! ([`normalize`]): full-width ASCII (digits, letters, punctuation) becomes half-width,
//! whitespace and zero-width characters are removed, ASCII letters are lower-cased. The title
//! and the description are matched separately. A match is dropped when it is preceded by 不
//! (不限男性, 不限本地户口) or lies inside a neutral phrase of [`NEUTRAL`] (招男工女工). So
//! 男女不限, 性别不限, 不限户口, 户籍不限 and 年龄不限 fire nothing.
//!
//! Ages are parsed by hand: a number from 14 to 99 followed by 岁/周岁, or after 年龄/年纪, is
//! an upper limit when followed by 以下/以内 (45岁以下, 35周岁以内), preceded by 不超过/小于/
//! 限 … (年龄不超过45岁, 限35岁), the upper end of a range (18-35岁, 年龄18~35, 20至40岁), or an
//! exclusion above it (50岁以上勿扰, 超过45岁免谈). A lower limit alone (18岁以上, 年满16周岁,
//! 16岁以下勿扰) is not a finding: it protects minors. An exclusion of the young above 18
//! (25岁以下勿扰) is one.
//!
//! Overlapping matches of one rule are reported once, as their union (年龄不超过 and 不超过45岁
//! give 年龄不超过45岁), and a phrase once per rule.
//! Findings come in the order of the rule table above, then by position in the text.

use serde::Serialize;

use crate::min_wage::MinimumWages;
use crate::occupation::occupations;
use crate::region::RegionCode;
use crate::schema::{Choice, WageUnit};

pub const DISCRIMINATION_GENDER: &str = "discrimination-gender";
pub const DISCRIMINATION_AGE: &str = "discrimination-age";
pub const DISCRIMINATION_ETHNICITY: &str = "discrimination-ethnicity";
pub const DISCRIMINATION_HOUSEHOLD: &str = "discrimination-household";
pub const DISCRIMINATION_DISABILITY: &str = "discrimination-disability";
pub const DISCRIMINATION_MARRIAGE: &str = "discrimination-marriage";
pub const DISCRIMINATION_HEALTH: &str = "discrimination-health";
pub const WAGE_BELOW_MINIMUM: &str = "wage-below-minimum";
pub const WAGE_IMPLAUSIBLE: &str = "wage-implausible";
pub const CONTACT_MISSING: &str = "contact-missing";

/// Every rule id, in the order findings are reported.
pub const RULES: &[&str] = &[
    DISCRIMINATION_GENDER,
    DISCRIMINATION_AGE,
    DISCRIMINATION_ETHNICITY,
    DISCRIMINATION_HOUSEHOLD,
    DISCRIMINATION_DISABILITY,
    DISCRIMINATION_MARRIAGE,
    DISCRIMINATION_HEALTH,
    WAGE_BELOW_MINIMUM,
    WAGE_IMPLAUSIBLE,
    CONTACT_MISSING,
];

/// A wage above this many times the region's minimum wage for its unit is flagged as
/// implausible: 10 × gives 172–196 yuan an hour, 763–869 a day and 16,600–18,900 a month
/// with the bundled table, above what gig work in Guizhou pays and the usual size of a lure
/// (日结800, 月入2万). Where there is no floor (piece work, a region outside the table), the
/// limit is half the schema's cap for the unit ([`WageUnit::max_wage`]: 5,000 yuan a piece).
pub const IMPLAUSIBLE_MULTIPLE: f64 = 10.0;

/// The phrase table: (rule, phrase), phrases in normalized form (see [`normalize`]).
pub const PHRASES: &[(&str, &str)] = &[
    // Gender: 《就业促进法》第二十七条, 《妇女权益保障法》第四十三条.
    (DISCRIMINATION_GENDER, "招男工"),
    (DISCRIMINATION_GENDER, "招女工"),
    (DISCRIMINATION_GENDER, "只招男"),
    (DISCRIMINATION_GENDER, "只招女"),
    (DISCRIMINATION_GENDER, "仅招男"),
    (DISCRIMINATION_GENDER, "仅招女"),
    (DISCRIMINATION_GENDER, "只要男"),
    (DISCRIMINATION_GENDER, "只要女"),
    (DISCRIMINATION_GENDER, "限男性"),
    (DISCRIMINATION_GENDER, "限女性"),
    (DISCRIMINATION_GENDER, "限男士"),
    (DISCRIMINATION_GENDER, "限女士"),
    (DISCRIMINATION_GENDER, "限男生"),
    (DISCRIMINATION_GENDER, "限女生"),
    (DISCRIMINATION_GENDER, "仅限男"),
    (DISCRIMINATION_GENDER, "仅限女"),
    (DISCRIMINATION_GENDER, "只限男"),
    (DISCRIMINATION_GENDER, "只限女"),
    (DISCRIMINATION_GENDER, "男性优先"),
    (DISCRIMINATION_GENDER, "女性优先"),
    (DISCRIMINATION_GENDER, "男士优先"),
    (DISCRIMINATION_GENDER, "女士优先"),
    (DISCRIMINATION_GENDER, "男生优先"),
    (DISCRIMINATION_GENDER, "女生优先"),
    (DISCRIMINATION_GENDER, "男工优先"),
    (DISCRIMINATION_GENDER, "女工优先"),
    (DISCRIMINATION_GENDER, "男性免谈"),
    (DISCRIMINATION_GENDER, "女性免谈"),
    (DISCRIMINATION_GENDER, "男士免谈"),
    (DISCRIMINATION_GENDER, "女士免谈"),
    (DISCRIMINATION_GENDER, "女生免谈"),
    (DISCRIMINATION_GENDER, "男性勿扰"),
    (DISCRIMINATION_GENDER, "女性勿扰"),
    (DISCRIMINATION_GENDER, "女士勿扰"),
    (DISCRIMINATION_GENDER, "女生勿扰"),
    (DISCRIMINATION_GENDER, "不招女"),
    (DISCRIMINATION_GENDER, "不招男"),
    (DISCRIMINATION_GENDER, "不要女"),
    (DISCRIMINATION_GENDER, "不要男"),
    (DISCRIMINATION_GENDER, "女的不要"),
    (DISCRIMINATION_GENDER, "男的不要"),
    // Age (no statute names it; 《就业促进法》第二十六条): phrases without a number. Limits with
    // a number are parsed by `age_spans`.
    (DISCRIMINATION_AGE, "年龄不超过"),
    (DISCRIMINATION_AGE, "年龄不大于"),
    (DISCRIMINATION_AGE, "年轻人优先"),
    (DISCRIMINATION_AGE, "限年轻"),
    (DISCRIMINATION_AGE, "只要年轻"),
    (DISCRIMINATION_AGE, "大龄勿扰"),
    (DISCRIMINATION_AGE, "大龄免谈"),
    (DISCRIMINATION_AGE, "中老年勿扰"),
    (DISCRIMINATION_AGE, "中年勿扰"),
    (DISCRIMINATION_AGE, "老年人勿扰"),
    (DISCRIMINATION_AGE, "年龄大勿扰"),
    (DISCRIMINATION_AGE, "年纪大勿扰"),
    (DISCRIMINATION_AGE, "年纪大的不要"),
    (DISCRIMINATION_AGE, "年龄偏大勿扰"),
    // Ethnicity: 《就业促进法》第三条、第二十八条.
    (DISCRIMINATION_ETHNICITY, "限汉族"),
    (DISCRIMINATION_ETHNICITY, "只招汉族"),
    (DISCRIMINATION_ETHNICITY, "仅招汉族"),
    (DISCRIMINATION_ETHNICITY, "汉族优先"),
    (DISCRIMINATION_ETHNICITY, "少数民族勿扰"),
    (DISCRIMINATION_ETHNICITY, "少数民族免谈"),
    (DISCRIMINATION_ETHNICITY, "不招少数民族"),
    (DISCRIMINATION_ETHNICITY, "不要少数民族"),
    (DISCRIMINATION_ETHNICITY, "回族勿扰"),
    (DISCRIMINATION_ETHNICITY, "维族勿扰"),
    (DISCRIMINATION_ETHNICITY, "藏族勿扰"),
    (DISCRIMINATION_ETHNICITY, "新疆人勿扰"),
    (DISCRIMINATION_ETHNICITY, "新疆人免谈"),
    // Household registration and home place: 《就业促进法》第二十六条、第三十一条. Any 限…户口
    // / 限…户籍 is found by `household_spans`.
    (DISCRIMINATION_HOUSEHOLD, "本地户口优先"),
    (DISCRIMINATION_HOUSEHOLD, "本地户籍优先"),
    (DISCRIMINATION_HOUSEHOLD, "本市户口优先"),
    (DISCRIMINATION_HOUSEHOLD, "城镇户口优先"),
    (DISCRIMINATION_HOUSEHOLD, "城市户口优先"),
    (DISCRIMINATION_HOUSEHOLD, "非农户口优先"),
    (DISCRIMINATION_HOUSEHOLD, "户口限本"),
    (DISCRIMINATION_HOUSEHOLD, "户籍限本"),
    (DISCRIMINATION_HOUSEHOLD, "农村户口勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "农村户口免谈"),
    (DISCRIMINATION_HOUSEHOLD, "农业户口勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "农村人勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "农民工勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "限本地人"),
    (DISCRIMINATION_HOUSEHOLD, "只招本地"),
    (DISCRIMINATION_HOUSEHOLD, "仅招本地"),
    (DISCRIMINATION_HOUSEHOLD, "只要本地"),
    (DISCRIMINATION_HOUSEHOLD, "本地人优先"),
    (DISCRIMINATION_HOUSEHOLD, "外地人免谈"),
    (DISCRIMINATION_HOUSEHOLD, "外地人勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "外地勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "外地免谈"),
    (DISCRIMINATION_HOUSEHOLD, "外省人勿扰"),
    (DISCRIMINATION_HOUSEHOLD, "外省人免谈"),
    (DISCRIMINATION_HOUSEHOLD, "不招外地"),
    (DISCRIMINATION_HOUSEHOLD, "不要外地"),
    // Disability: 《就业促进法》第二十九条, 《残疾人保障法》第三十八条.
    (DISCRIMINATION_DISABILITY, "残疾人勿扰"),
    (DISCRIMINATION_DISABILITY, "残疾人免谈"),
    (DISCRIMINATION_DISABILITY, "残疾者勿扰"),
    (DISCRIMINATION_DISABILITY, "残疾者免谈"),
    (DISCRIMINATION_DISABILITY, "残疾勿扰"),
    (DISCRIMINATION_DISABILITY, "残疾免谈"),
    (DISCRIMINATION_DISABILITY, "残疾人不要"),
    (DISCRIMINATION_DISABILITY, "不招残疾"),
    (DISCRIMINATION_DISABILITY, "不要残疾"),
    (DISCRIMINATION_DISABILITY, "不收残疾"),
    (DISCRIMINATION_DISABILITY, "限健全"),
    (DISCRIMINATION_DISABILITY, "只招健全"),
    (DISCRIMINATION_DISABILITY, "仅招健全"),
    (DISCRIMINATION_DISABILITY, "健全人优先"),
    (DISCRIMINATION_DISABILITY, "肢体健全"),
    (DISCRIMINATION_DISABILITY, "四肢健全"),
    // Marriage, pregnancy, children: 《就业促进法》第二十七条, 《妇女权益保障法》第四十三条.
    (DISCRIMINATION_MARRIAGE, "限未婚"),
    (DISCRIMINATION_MARRIAGE, "只招未婚"),
    (DISCRIMINATION_MARRIAGE, "仅招未婚"),
    (DISCRIMINATION_MARRIAGE, "未婚优先"),
    (DISCRIMINATION_MARRIAGE, "限已婚"),
    (DISCRIMINATION_MARRIAGE, "已婚优先"),
    (DISCRIMINATION_MARRIAGE, "已婚已育"),
    (DISCRIMINATION_MARRIAGE, "已育优先"),
    (DISCRIMINATION_MARRIAGE, "未育勿扰"),
    (DISCRIMINATION_MARRIAGE, "未育免谈"),
    (DISCRIMINATION_MARRIAGE, "孕妇勿扰"),
    (DISCRIMINATION_MARRIAGE, "孕妇免谈"),
    (DISCRIMINATION_MARRIAGE, "孕妇不要"),
    (DISCRIMINATION_MARRIAGE, "不招孕妇"),
    (DISCRIMINATION_MARRIAGE, "不要孕妇"),
    (DISCRIMINATION_MARRIAGE, "怀孕勿扰"),
    (DISCRIMINATION_MARRIAGE, "怀孕免谈"),
    (DISCRIMINATION_MARRIAGE, "孕期勿扰"),
    (DISCRIMINATION_MARRIAGE, "哺乳期勿扰"),
    (DISCRIMINATION_MARRIAGE, "三年内不生育"),
    (DISCRIMINATION_MARRIAGE, "不得怀孕"),
    // Health: 《就业促进法》第三十条 (carriers of a communicable disease).
    (DISCRIMINATION_HEALTH, "乙肝勿扰"),
    (DISCRIMINATION_HEALTH, "乙肝免谈"),
    (DISCRIMINATION_HEALTH, "乙肝不要"),
    (DISCRIMINATION_HEALTH, "不招乙肝"),
    (DISCRIMINATION_HEALTH, "不要乙肝"),
    (DISCRIMINATION_HEALTH, "乙肝携带者勿扰"),
    (DISCRIMINATION_HEALTH, "乙肝携带者免谈"),
    (DISCRIMINATION_HEALTH, "乙肝病毒携带者勿扰"),
    (DISCRIMINATION_HEALTH, "乙肝患者勿扰"),
    (DISCRIMINATION_HEALTH, "大三阳勿扰"),
    (DISCRIMINATION_HEALTH, "小三阳勿扰"),
    (DISCRIMINATION_HEALTH, "大小三阳勿扰"),
    (DISCRIMINATION_HEALTH, "大小三阳免谈"),
    (DISCRIMINATION_HEALTH, "乙肝五项"),
    (DISCRIMINATION_HEALTH, "乙肝两对半"),
    (DISCRIMINATION_HEALTH, "hbsag阳性"),
    (DISCRIMINATION_HEALTH, "艾滋病勿扰"),
    (DISCRIMINATION_HEALTH, "hiv勿扰"),
];

/// Neutral phrases: a match that lies inside one of these is not a finding.
pub const NEUTRAL: &[&str] = &["招男工女工", "招女工男工", "招男工和女工", "招女工和男工"];

/// Words that, after an age, turn it into an exclusion (45岁以上勿扰, 16岁以下禁止).
const EXCLUSION: &[&str] = &[
    "勿扰",
    "免谈",
    "不要",
    "不招",
    "谢绝",
    "不考虑",
    "不收",
    "莫扰",
    "别来",
    "禁止",
    "不得",
    "不可",
    "不能",
    "不予",
];

/// A finding of [`check_post`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule id, one of [`RULES`].
    pub rule: &'static str,
    /// What triggered it: the matched phrase (normalized), the wage (`"15/hour"`), or the
    /// contact field as given.
    pub phrase: String,
    pub message_en: String,
    pub message_zh: String,
}

/// The parts of a post the checks read.
#[derive(Clone, Copy, Debug)]
pub struct PostCheck<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub contact: &'a str,
    /// The occupation code or name, named in the age finding's message.
    pub occupation: &'a str,
    /// Yuan per `unit`.
    pub wage: f64,
    /// `hour`, `day`, `month` or `piece`.
    pub unit: &'a str,
    pub region: RegionCode,
}

/// The text the phrases are matched on: full-width ASCII (U+FF01–U+FF5E) made half-width,
/// whitespace (the ideographic space too) and zero-width characters removed, ASCII letters
/// lower-cased.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            if c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}') {
                None
            } else {
                Some(c.to_ascii_lowercase())
            }
        })
        .collect()
}

/// The legal basis of each discrimination rule, English and Chinese.
fn basis(rule: &str) -> (&'static str, &'static str) {
    match rule {
        DISCRIMINATION_GENDER => (
            "it limits or ranks applicants by sex, which the Employment Promotion Law (《就业促进法》art. 3, 27) and the Law on the Protection of Women's Rights and Interests (《妇女权益保障法》art. 43) forbid unless a national rule reserves the work",
            "按性别限制或区别对待求职者，违反《就业促进法》第三条、第二十七条和《妇女权益保障法》第四十三条（国家规定不适合妇女的工种或岗位除外）",
        ),
        DISCRIMINATION_AGE => (
            "it sets an age limit; no statute names age, but the Employment Promotion Law (《就业促进法》art. 26) requires fair conditions for every applicant: judge whether the work really needs the limit (for example a safety rule for the job) and reject the post if it does not",
            "设置了年龄限制；法律没有单列年龄，但《就业促进法》第二十六条要求向劳动者提供公平的就业条件：请判断该工作是否确有必要限制年龄（例如岗位的安全规定），没有必要的应退回",
        ),
        DISCRIMINATION_ETHNICITY => (
            "it limits applicants by ethnicity, which the Employment Promotion Law (《就业促进法》art. 3, 28) forbids",
            "按民族限制求职者，违反《就业促进法》第三条、第二十八条",
        ),
        DISCRIMINATION_HOUSEHOLD => (
            "it limits applicants by household registration or home place, against the Employment Promotion Law (《就业促进法》art. 26, and art. 31 for rural workers)",
            "按户籍或籍贯限制求职者，违反《就业促进法》第二十六条、第三十一条（不得对农村劳动者设置歧视性限制）",
        ),
        DISCRIMINATION_DISABILITY => (
            "it excludes people with disabilities, which the Employment Promotion Law (《就业促进法》art. 29) and the Law on the Protection of Persons with Disabilities (《残疾人保障法》art. 38) forbid; a specific physical requirement of the work belongs in the post instead",
            "排斥残疾人，违反《就业促进法》第二十九条和《残疾人保障法》第三十八条；岗位确有的具体身体要求应如实写明",
        ),
        DISCRIMINATION_MARRIAGE => (
            "it makes marriage, pregnancy or children a condition, which the Employment Promotion Law (《就业促进法》art. 27) and the Law on the Protection of Women's Rights and Interests (《妇女权益保障法》art. 43) forbid",
            "把婚姻、怀孕或生育状况作为录用条件，违反《就业促进法》第二十七条和《妇女权益保障法》第四十三条",
        ),
        _ => (
            "it excludes carriers of hepatitis B (or HIV); the Employment Promotion Law (《就业促进法》art. 30) forbids refusing a carrier of a communicable disease except for work that national health rules close to them, and hepatitis B tests are not part of employment medical checks",
            "排斥乙肝（或艾滋病）病原携带者，违反《就业促进法》第三十条（国家卫生规定禁止从事的工作除外）；入职体检不得检测乙肝项目",
        ),
    }
}

/// Runs every check on a post. See the module docs for the rules.
pub fn check_post(input: &PostCheck<'_>, wages: &MinimumWages) -> Vec<Finding> {
    let mut spans: Vec<(usize, &'static str, String)> = Vec::new();
    for text in [input.title, input.description] {
        let text = normalize(text);
        for (rule, start, end) in phrase_matches(&text) {
            spans.push((rule_index(rule), rule, text[start..end].to_string()));
        }
    }
    let occupation = occupation_label(input.occupation);
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    for (index, rule, phrase) in spans {
        if findings
            .iter()
            .any(|(_, f)| f.rule == rule && f.phrase == phrase)
        {
            continue;
        }
        let (law_en, law_zh) = basis(rule);
        let (mut message_en, mut message_zh) = (
            format!("“{phrase}”: {law_en}"),
            format!("“{phrase}”：{law_zh}"),
        );
        if rule == DISCRIMINATION_AGE && !occupation.is_empty() {
            message_en.push_str(&format!(" (the post's occupation: {occupation})"));
            message_zh.push_str(&format!("（本岗位职业：{occupation}）"));
        }
        findings.push((
            index,
            Finding {
                rule,
                phrase,
                message_en,
                message_zh,
            },
        ));
    }
    // A stable sort keeps the order of appearance within a rule.
    findings.sort_by_key(|(index, _)| *index);
    let mut findings: Vec<Finding> = findings.into_iter().map(|(_, f)| f).collect();
    findings.extend(wage_findings(input, wages));
    if !has_phone(input.contact) {
        let contact = input.contact.trim().to_string();
        findings.push(Finding {
            rule: CONTACT_MISSING,
            message_en: format!(
                "the contact “{contact}” has no phone number (an 11-digit mobile number 1[3-9]…, or a landline with its area code such as 0851-…): a post must say how to reach the employer"
            ),
            message_zh: format!(
                "联系方式“{contact}”中没有电话号码（11 位手机号 1[3-9]…，或带区号的座机号，如 0851-…）：岗位信息必须写明能联系到用人单位的方式"
            ),
            phrase: contact,
        });
    }
    findings
}

fn rule_index(rule: &str) -> usize {
    RULES.iter().position(|r| *r == rule).unwrap_or(RULES.len())
}

/// The occupation as `code name` when the table knows it, else as given.
fn occupation_label(occupation: &str) -> String {
    let occupation = occupation.trim();
    match occupations().resolve(occupation) {
        Ok(o) => format!("{} {}", o.code, o.name),
        Err(_) => occupation.to_string(),
    }
}

/// All discrimination matches in one normalized text: (rule, byte start, byte end), in order of
/// position, overlapping matches of one rule merged into their union.
fn phrase_matches(text: &str) -> Vec<(&'static str, usize, usize)> {
    let neutral: Vec<(usize, usize)> = NEUTRAL
        .iter()
        .flat_map(|n| text.match_indices(n).map(|(s, m)| (s, s + m.len())))
        .collect();
    let mut found: Vec<(&'static str, usize, usize)> = Vec::new();
    for &(rule, phrase) in PHRASES {
        for (start, m) in text.match_indices(phrase) {
            found.push((rule, start, start + m.len()));
        }
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    for (s, e) in age_spans(&chars) {
        found.push((DISCRIMINATION_AGE, byte(s), byte(e)));
    }
    for (s, e) in household_spans(&chars) {
        found.push((DISCRIMINATION_HOUSEHOLD, byte(s), byte(e)));
    }
    found.retain(|&(_, s, e)| {
        !text[..s].ends_with('不') && !neutral.iter().any(|&(ns, ne)| ns <= s && e <= ne)
    });
    // Overlapping matches of one rule merge into their union (年龄不超过 + 不超过45岁 →
    // 年龄不超过45岁).
    found.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)));
    let mut kept: Vec<(&'static str, usize, usize)> = Vec::new();
    for m in found {
        match kept.iter_mut().rev().find(|k| k.0 == m.0) {
            Some(k) if m.1 < k.2 => k.2 = k.2.max(m.2),
            _ => kept.push(m),
        }
    }
    kept
}

/// True if `t[i..]` starts with `s`.
fn starts(t: &[(usize, char)], i: usize, s: &str) -> bool {
    let mut k = i;
    for c in s.chars() {
        match t.get(k) {
            Some(&(_, x)) if x == c => k += 1,
            _ => return false,
        }
    }
    true
}

/// True if `t[..i]` ends with `s`.
fn ends(t: &[(usize, char)], i: usize, s: &str) -> bool {
    let n = s.chars().count();
    i >= n && starts(t, i - n, s)
}

/// The number written with 1 or 2 ASCII digits at `t[i..]` (not inside a longer run of
/// digits) and where it ends.
fn number_at(t: &[(usize, char)], i: usize) -> Option<(u32, usize)> {
    if i > 0 && t[i - 1].1.is_ascii_digit() {
        return None;
    }
    let mut e = i;
    let mut v = 0u32;
    while let Some(&(_, c)) = t.get(e) {
        let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) else {
            break;
        };
        v = v * 10 + d;
        e += 1;
        if e - i > 2 {
            return None;
        }
    }
    (e > i).then_some((v, e))
}

/// Where 岁 or 周岁 at `t[i..]` ends.
fn after_sui(t: &[(usize, char)], i: usize) -> Option<usize> {
    if starts(t, i, "周岁") {
        Some(i + 2)
    } else if starts(t, i, "岁") {
        Some(i + 1)
    } else {
        None
    }
}

/// Where an exclusion word (optionally after 的) at `t[i..]` ends.
fn exclusion_at(t: &[(usize, char)], i: usize) -> Option<usize> {
    let i = if starts(t, i, "的") { i + 1 } else { i };
    EXCLUSION
        .iter()
        .find(|w| starts(t, i, w))
        .map(|w| i + w.chars().count())
}

/// The first of `words` that `t[i..]` starts with, and where it ends.
fn word_at(t: &[(usize, char)], i: usize, words: &[&str]) -> Option<usize> {
    words
        .iter()
        .find(|w| starts(t, i, w))
        .map(|w| i + w.chars().count())
}

/// The first of `words` that `t[..i]` ends with, and where it starts.
fn word_before(t: &[(usize, char)], i: usize, words: &[&str]) -> Option<usize> {
    words
        .iter()
        .find(|w| ends(t, i, w))
        .map(|w| i - w.chars().count())
}

const AGE_OF_MAJORITY: u32 = 18;

/// Spans (char indices) of age limits that are findings: see the module docs.
fn age_spans(t: &[(usize, char)]) -> Vec<(usize, usize)> {
    const BELOW: &[&str] = &["及以下", "(含)以下", "以下", "以内", "之内"];
    const ABOVE: &[&str] = &["及以上", "(含)以上", "以上", "以外"];
    const AT_MOST: &[&str] = &[
        "不得超过",
        "不能超过",
        "不超过",
        "未超过",
        "不大于",
        "不高于",
        "小于",
        "低于",
        "最大",
        "最高",
    ];
    const OVER: &[&str] = &["超过", "大于", "高于", "超出"];
    const UNDER: &[&str] = &["未满", "不满"];
    const RANGE: &[char] = &['-', '~', '—', '–', '〜', '至', '到'];
    const CONNECT: &[char] = &['及', '和', '或', '、', '/', ','];
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let Some((n, e)) = number_at(t, i) else {
            i += 1;
            continue;
        };
        let next = e;
        if !(14..=99).contains(&n) {
            i = next;
            continue;
        }
        let sui = after_sui(t, e);
        let j = sui.unwrap_or(e);
        let age_word =
            (i.saturating_sub(6)..i).any(|k| starts(t, k, "年龄") || starts(t, k, "年纪"));
        let start = if ends(t, i, "年龄") || ends(t, i, "年纪") {
            i - 2
        } else {
            i
        };
        // A range: 18-35岁, 年龄18~35, 20岁至40岁.
        if let Some(&(_, sep)) = t.get(j)
            && RANGE.contains(&sep)
            && let Some((m, e2)) = number_at(t, j + 1)
        {
            let sui2 = after_sui(t, e2);
            if (sui.is_some() || sui2.is_some() || age_word) && m > n && m <= 99 {
                out.push((start, sui2.unwrap_or(e2)));
                i = e2;
                continue;
            }
        }
        if sui.is_none() && !age_word {
            i = next;
            continue;
        }
        let before = word_before(t, i, AT_MOST);
        let over = word_before(t, i, OVER).filter(|&b| !ends(t, b, "不") && !ends(t, b, "未"));
        let under = word_before(t, i, UNDER);
        if let Some(b) = word_at(t, j, BELOW) {
            let listed = t.get(b).is_some_and(|&(_, c)| CONNECT.contains(&c))
                && t.get(b + 1).is_some_and(|&(_, c)| c.is_ascii_digit());
            match exclusion_at(t, b) {
                // 25岁以下勿扰 excludes the young: a finding above the age of majority.
                Some(x) if n > AGE_OF_MAJORITY => out.push((start, x)),
                Some(_) => {}
                None if !listed => out.push((start, b)),
                None => {}
            }
        } else if let Some(a) = word_at(t, j, ABOVE) {
            if let Some(x) = exclusion_at(t, a) {
                out.push((start, x));
            }
        } else if let Some(b) = under {
            if let Some(x) = exclusion_at(t, j).filter(|_| n > AGE_OF_MAJORITY) {
                out.push((b, x));
            }
        } else if let Some(b) = over {
            if let Some(x) = exclusion_at(t, j) {
                out.push((b, x));
            }
        } else if let Some(b) = before {
            out.push((b, j));
        } else if sui.is_some() && ends(t, i, "限") && !ends(t, i - 1, "不") {
            out.push((i - 1, j));
        }
        i = next;
    }
    out
}

/// Spans (char indices) of 限…户口 / 限…户籍 with at most 8 characters between and no
/// punctuation: 限本地户口, 限贵阳市户口, 限城镇户口. 不限户口 is dropped by the caller (不).
fn household_spans(t: &[(usize, char)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        if !(starts(t, i, "户口") || starts(t, i, "户籍")) {
            continue;
        }
        for k in (i.saturating_sub(9)..i).rev() {
            let c = t[k].1;
            if c.is_ascii_punctuation() || "，。；：！？、（）《》“”".contains(c) {
                break;
            }
            if c == '限' {
                out.push((k, i + 2));
                break;
            }
        }
    }
    out
}

/// True if `contact` holds a phone number: an 11-digit mobile number starting 1[3-9] (`+86`
/// or `86` before it allowed), a landline with its area code (0 and 2–3 digits, then 7–8
/// digits; `-`, spaces or parentheses between), or a 10-digit 400/800 number.
pub fn has_phone(contact: &str) -> bool {
    // Runs of digit groups joined by single '-' (parentheses count as '-', so "(0851)8681234"
    // is the run 0851-8681234); any other character, or a second '-', ends a run.
    let text = normalize(contact);
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut group = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        let c = match c {
            '(' | ')' | '（' | '）' | '—' | '–' => '-',
            _ => c,
        };
        if c.is_ascii_digit() {
            group.push(c);
        } else if c == '-' && !group.is_empty() {
            run.push(std::mem::take(&mut group));
        } else if c == '-' && run.is_empty() {
            // A '-' before any digit, as in "(0851)": nothing to end.
        } else {
            if !group.is_empty() {
                run.push(std::mem::take(&mut group));
            }
            if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
    }
    runs.iter().any(|r| {
        let groups: Vec<&str> = r.iter().map(String::as_str).collect();
        group_is_phone(&groups)
    })
}

/// A run of digit groups (as split at '-') is a phone number.
fn group_is_phone(groups: &[&str]) -> bool {
    let digits: String = groups.concat();
    let mobile =
        |d: &str| d.len() == 11 && d.starts_with('1') && matches!(d.as_bytes()[1], b'3'..=b'9');
    if mobile(&digits) || (digits.len() == 13 && digits.starts_with("86") && mobile(&digits[2..])) {
        return true;
    }
    if (digits.starts_with("400") || digits.starts_with("800")) && digits.len() == 10 {
        return true;
    }
    // A landline: area code 0 + 2 or 3 digits, then 7 or 8 digits. With a separator the
    // first group is the area code; without one, 10 to 12 digits starting with 0.
    let local_ok = |area: &str, local: &str| {
        area.starts_with('0')
            && (3..=4).contains(&area.len())
            && (7..=8).contains(&local.len())
            && !local.starts_with('0')
    };
    match groups {
        [one] => {
            one.starts_with('0')
                && (10..=12).contains(&one.len())
                && (local_ok(&one[..3], &one[3..]) || local_ok(&one[..4], &one[4..]))
        }
        [area, rest @ ..] => local_ok(area, &rest.concat()),
        [] => false,
    }
}

/// The wage rules: below the floor, above the implausible limit.
fn wage_findings(input: &PostCheck<'_>, wages: &MinimumWages) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(unit) = WageUnit::ALL
        .iter()
        .copied()
        .find(|u| u.as_str() == input.unit)
    else {
        return out;
    };
    let wage = input.wage;
    if !wage.is_finite() {
        return out;
    }
    let unit_en = unit.as_str();
    let unit_zh = unit.as_zh();
    let phrase = format!("{}/{unit_en}", yuan(wage));
    let floor = wages.floor(&input.region, unit_en).map(to_fen);
    let class = wages.class_of(&input.region);
    if let (Some(floor), Some(class)) = (floor, class)
        && wage < floor
    {
        let source = wages.source();
        let (how_en, how_zh) = if unit == WageUnit::Day {
            (
                format!(
                    " (the monthly minimum ÷ {}: the notice sets no daily figure)",
                    wages.day_divisor()
                ),
                format!("（月最低工资 ÷ {}，通知未规定日标准）", wages.day_divisor()),
            )
        } else {
            (String::new(), String::new())
        };
        out.push(Finding {
            rule: WAGE_BELOW_MINIMUM,
            message_en: format!(
                "the wage {} yuan per {unit_en} is below the minimum wage of {} yuan per {unit_en}{how_en} in {}, area class {} ({}, in force from {}); the Labour Law (《劳动法》art. 48) forbids paying less than the local minimum wage",
                yuan(wage),
                yuan(floor),
                input.region,
                class.class,
                source.title_zh,
                source.effective,
            ),
            message_zh: format!(
                "工资每{unit_zh} {} 元低于 {} 第 {} 类区域的最低工资标准每{unit_zh} {} 元{how_zh}（{}，{} 起执行），违反《劳动法》第四十八条：工资不得低于当地最低工资标准",
                yuan(wage),
                input.region,
                class.class,
                yuan(floor),
                source.title_zh,
                source.effective,
            ),
            phrase: phrase.clone(),
        });
    }
    let (limit, how_en, how_zh) = match floor {
        Some(floor) => (
            to_fen(floor * IMPLAUSIBLE_MULTIPLE),
            format!("{IMPLAUSIBLE_MULTIPLE} times the minimum wage here"),
            format!("本地最低工资标准的 {IMPLAUSIBLE_MULTIPLE} 倍"),
        ),
        None => (
            unit.max_wage() / 2.0,
            "half the highest wage a post may carry".to_string(),
            "岗位工资上限的一半".to_string(),
        ),
    };
    if wage > limit {
        out.push(Finding {
            rule: WAGE_IMPLAUSIBLE,
            message_en: format!(
                "the wage {} yuan per {unit_en} is above {} yuan ({how_en}); so high a wage is a common lure in fake posts: confirm it with the employer before approving",
                yuan(wage),
                yuan(limit),
            ),
            message_zh: format!(
                "工资每{unit_zh} {} 元高于 {} 元（{how_zh}）；过高的工资常被虚假招聘用作诱饵，请向用人单位核实后再通过",
                yuan(wage),
                yuan(limit),
            ),
            phrase,
        });
    }
    out
}

/// Rounds to the fen.
fn to_fen(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Yuan with at most two decimals and no trailing zeros: 1660, 76.32, 19.6.
fn yuan(v: f64) -> String {
    let s = format!("{:.2}", to_fen(v));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post<'a>(title: &'a str, description: &'a str) -> PostCheck<'a> {
        PostCheck {
            title,
            description,
            contact: "张师傅 13812345678",
            occupation: "4-10-01-06",
            wage: 150.0,
            unit: "day",
            region: RegionCode::parse("520102").unwrap(),
        }
    }

    fn rules(p: &PostCheck<'_>) -> Vec<&'static str> {
        check_post(p, MinimumWages::bundled())
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    fn fires(rule: &str, text: &str) -> Vec<Finding> {
        check_post(&post("招工", text), MinimumWages::bundled())
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect()
    }

    #[test]
    fn phrases_are_stored_normalized_and_under_known_rules() {
        for &(rule, phrase) in PHRASES {
            assert_eq!(normalize(phrase), phrase);
            assert!(RULES.contains(&rule));
        }
        for n in NEUTRAL {
            assert_eq!(&normalize(n), n);
        }
    }

    #[test]
    fn normalize_folds_width_space_and_case() {
        assert_eq!(normalize("４５ 岁\u{3000}以下"), "45岁以下");
        assert_eq!(normalize("HBsAg\u{200B}阳性"), "hbsag阳性");
        assert_eq!(
            normalize("（０８５１）－８６８１２３４５"),
            "(0851)-86812345"
        );
    }

    #[test]
    fn a_neutral_post_has_no_findings() {
        let p = post(
            "招聘家政服务员",
            "男女不限，年龄不限，不限户口，户籍不限，欢迎残疾人朋友，性别不限，民族不限。年满18周岁，18岁以上即可。日结150元，工作时间9-18点，招20-30人。",
        );
        assert_eq!(rules(&p), Vec::<&str>::new());
    }

    #[test]
    fn every_phrase_fires_its_rule_and_its_negation_does_not() {
        for &(rule, phrase) in PHRASES {
            let found = fires(rule, &format!("本岗位{phrase}。"));
            assert_eq!(found.len(), 1, "{phrase}");
            assert_eq!(found[0].phrase, phrase);
            assert!(found[0].message_en.contains(phrase));
            assert!(found[0].message_zh.contains('《'), "{phrase}");
            // Spaces and full-width forms inside the phrase do not hide it.
            let spaced: String = phrase.chars().flat_map(|c| [c, ' ']).collect();
            assert_eq!(fires(rule, &spaced).len(), 1, "{spaced}");
            if phrase.starts_with('限') {
                assert!(fires(rule, &format!("不{phrase}")).is_empty(), "不{phrase}");
            }
        }
    }

    #[test]
    fn gender() {
        for text in [
            "招男工5名",
            "限男性",
            "只招女工",
            "男性优先",
            "女性免谈",
            "仅限男士",
        ] {
            assert_eq!(fires(DISCRIMINATION_GENDER, text).len(), 1, "{text}");
        }
        for text in [
            "男女不限",
            "不限男女",
            "性别不限",
            "招男工女工各2名",
            "男女均可",
            "不限男性女性",
        ] {
            assert!(fires(DISCRIMINATION_GENDER, text).is_empty(), "{text}");
        }
    }

    #[test]
    fn age_limits_fire_with_the_phrase() {
        for (text, phrase) in [
            ("45岁以下", "45岁以下"),
            ("４５周岁以下", "45周岁以下"),
            ("年龄18-35", "年龄18-35"),
            ("年龄：18-35岁", "18-35岁"),
            ("年龄18～35岁之间", "年龄18~35岁"),
            ("20至40岁", "20至40岁"),
            ("20岁到40岁", "20岁到40岁"),
            ("限35岁", "限35岁"),
            ("限35岁以下", "35岁以下"),
            ("35岁以内", "35岁以内"),
            ("年龄不超过45岁", "年龄不超过45岁"),
            ("不超过50周岁", "不超过50周岁"),
            ("年龄45以下", "年龄45以下"),
            ("50岁以上勿扰", "50岁以上勿扰"),
            ("45岁以上的免谈", "45岁以上的免谈"),
            ("超过45岁不要", "超过45岁不要"),
            ("25岁以下勿扰", "25岁以下勿扰"),
            ("年轻人优先", "年轻人优先"),
        ] {
            let found = fires(DISCRIMINATION_AGE, text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].phrase, phrase, "{text}");
            assert!(found[0].message_en.contains("judge whether the work"));
            assert!(found[0].message_zh.contains("家政服务员"));
        }
    }

    #[test]
    fn lower_limits_and_other_numbers_are_not_age_findings() {
        for text in [
            "年龄不限",
            "18岁以上",
            "年满16周岁",
            "年满18周岁",
            "16岁以下勿扰",
            "未满18周岁禁止",
            "18岁以下禁止",
            "不限35岁",
            "工作经验5年以上",
            "月薪3000-5000元",
            "8-10元一件",
            "招20-30人",
            "工作时间9-18点",
            "每天工作8小时以内",
            "距离市区15公里以内",
        ] {
            let found = fires(DISCRIMINATION_AGE, text);
            assert!(found.is_empty(), "{text}: {found:?}");
        }
    }

    #[test]
    fn ethnicity_household_disability_marriage_health() {
        for (rule, text) in [
            (DISCRIMINATION_ETHNICITY, "限汉族"),
            (DISCRIMINATION_HOUSEHOLD, "限本地户口"),
            (DISCRIMINATION_HOUSEHOLD, "本地人优先"),
            (DISCRIMINATION_HOUSEHOLD, "外地人免谈"),
            (DISCRIMINATION_HOUSEHOLD, "限城镇户口"),
            (DISCRIMINATION_HOUSEHOLD, "限贵阳市户籍"),
            (DISCRIMINATION_DISABILITY, "身体残疾者勿扰"),
            (DISCRIMINATION_DISABILITY, "限健全人"),
            (DISCRIMINATION_MARRIAGE, "限未婚"),
            (DISCRIMINATION_MARRIAGE, "已婚已育优先"),
            (DISCRIMINATION_MARRIAGE, "孕妇勿扰"),
            (DISCRIMINATION_HEALTH, "乙肝勿扰"),
            (DISCRIMINATION_HEALTH, "乙肝携带者勿扰"),
        ] {
            let found = fires(rule, text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
        }
        // Overlapping phrases of one rule give one finding.
        let found = fires(DISCRIMINATION_HEALTH, "乙肝携带者勿扰");
        assert_eq!(found[0].phrase, "乙肝携带者勿扰");
        let found = fires(DISCRIMINATION_MARRIAGE, "已婚已育优先");
        assert_eq!(found[0].phrase, "已婚已育优先");
        for (rule, text) in [
            (DISCRIMINATION_HOUSEHOLD, "不限户口"),
            (DISCRIMINATION_HOUSEHOLD, "户籍不限，本地外地均可"),
            (DISCRIMINATION_HOUSEHOLD, "不限本地户口"),
            (DISCRIMINATION_HOUSEHOLD, "限时招聘，户口不限"),
            (DISCRIMINATION_ETHNICITY, "民族不限"),
            (DISCRIMINATION_DISABILITY, "欢迎残疾人报名"),
            (DISCRIMINATION_MARRIAGE, "婚否不限"),
            (DISCRIMINATION_HEALTH, "身体健康"),
        ] {
            assert!(fires(rule, text).is_empty(), "{text}");
        }
    }

    #[test]
    fn a_phrase_is_reported_once_and_findings_follow_the_rule_order() {
        let p = post("限男性 乙肝勿扰", "男性优先，限男性，45岁以下，限男性");
        let found = check_post(&p, MinimumWages::bundled());
        let got: Vec<(&str, &str)> = found.iter().map(|f| (f.rule, f.phrase.as_str())).collect();
        assert_eq!(
            got,
            [
                (DISCRIMINATION_GENDER, "限男性"),
                (DISCRIMINATION_GENDER, "男性优先"),
                (DISCRIMINATION_AGE, "45岁以下"),
                (DISCRIMINATION_HEALTH, "乙肝勿扰"),
            ]
        );
    }

    #[test]
    fn wages_below_the_floor_are_found() {
        let wages = MinimumWages::bundled();
        let check = |wage: f64, unit: &str| -> Vec<&'static str> {
            let mut p = post("招聘", "");
            p.wage = wage;
            p.unit = unit;
            check_post(&p, wages).into_iter().map(|f| f.rule).collect()
        };
        assert_eq!(check(17.0, "hour"), [WAGE_BELOW_MINIMUM]);
        assert!(check(17.2, "hour").is_empty());
        assert_eq!(check(1600.0, "month"), [WAGE_BELOW_MINIMUM]);
        assert!(check(1660.0, "month").is_empty());
        // Day: 1,660 ÷ 21.75 = 76.32 yuan.
        assert_eq!(check(76.31, "day"), [WAGE_BELOW_MINIMUM]);
        assert!(check(76.32, "day").is_empty());
        assert!(check(0.5, "piece").is_empty());
        assert!(check(1.0, "fortnight").is_empty());
        let mut p = post("招聘", "");
        p.wage = 15.0;
        p.unit = "hour";
        let f = &check_post(&p, wages)[0];
        assert_eq!(f.phrase, "15/hour");
        assert!(
            f.message_en.contains("17.2 yuan per hour"),
            "{}",
            f.message_en
        );
        assert!(f.message_en.contains("art. 48"));
        assert!(f.message_zh.contains("《劳动法》第四十八条"));
        assert!(f.message_zh.contains("2023-02-01"));
    }

    #[test]
    fn implausible_wages_are_found() {
        let wages = MinimumWages::bundled();
        let check = |wage: f64, unit: &str, region: &str| -> Vec<&'static str> {
            let mut p = post("招聘", "");
            p.wage = wage;
            p.unit = unit;
            p.region = RegionCode::parse(region).unwrap();
            check_post(&p, wages).into_iter().map(|f| f.rule).collect()
        };
        assert!(check(172.0, "hour", "520102").is_empty());
        assert_eq!(check(172.01, "hour", "520102"), [WAGE_IMPLAUSIBLE]);
        assert!(check(763.2, "day", "520102").is_empty());
        assert_eq!(check(800.0, "day", "520102"), [WAGE_IMPLAUSIBLE]);
        assert_eq!(check(20000.0, "month", "520102"), [WAGE_IMPLAUSIBLE]);
        assert!(check(5000.0, "piece", "520102").is_empty());
        assert_eq!(check(5000.01, "piece", "520102"), [WAGE_IMPLAUSIBLE]);
        // Outside the table: no floor, half the cap.
        assert!(check(400.0, "hour", "110101").is_empty());
        assert_eq!(check(600.0, "hour", "110101"), [WAGE_IMPLAUSIBLE]);
    }

    #[test]
    fn contacts() {
        for ok in [
            "13812345678",
            "张师傅 138 1234 5678",
            "电话：138-1234-5678",
            "+86 139 1234 5678",
            "8613912345678",
            "0851-86812345",
            "０８５１－８６８１２３４５",
            "(0851)86812345",
            "座机085186812345",
            "0856-1234567",
            "400-123-4567",
            "王姐19912345678（微信同号）",
        ] {
            assert!(has_phone(ok), "{ok}");
        }
        for bad in [
            "",
            "王师傅",
            "微信 wx12345",
            "12345678901",
            "1381234567",
            "138123456789",
            "86812345",
            "0851-123",
            "0851--86812345x",
            "12333",
            "南明区人民路85号",
        ] {
            assert!(!has_phone(bad), "{bad}");
        }
        let mut p = post("招聘", "");
        p.contact = "  王师傅 ";
        let found = check_post(&p, MinimumWages::bundled());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, CONTACT_MISSING);
        assert_eq!(found[0].phrase, "王师傅");
    }
}
