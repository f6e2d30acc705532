//! Guizhou's minimum wage by area class ([`MinimumWages`]): the floor a post's wage is checked
//! against in the authenticity review (`review.rs`, rule `wage-below-minimum`).
//!
//! China's minimum wage is set by each province in classes of areas: Guizhou has three, each
//! with a monthly standard (full-time work) and an hourly standard (non-full-time work), and
//! assigns every county to a class. [`MinimumWages::floor`] gives the floor for a region and a
//! wage unit:
//!
//! | unit | floor |
//! |---|---|
//! | `month` | the class's monthly standard |
//! | `hour` | the class's hourly standard |
//! | `day` | the class's `daily` figure if the table gives one, else monthly ÷ `day_divisor` (21.75, the average paid days of a month, 劳社部发〔2008〕3号); the notices set no daily figure |
//! | `piece` (or anything else) | none |
//!
//! A region's class is that of its county (the region cut to 6 digits). A county the table does
//! not list, and a region above county level (the province, a city), get the **lowest** class:
//! the floor that holds everywhere, so a missing or stale assignment can only make the check
//! miss an underpaid post, never flag a lawful wage. Regions outside the table's province have
//! no floor.
//!
//! # The bundled table and how current it is
//!
//! [`MinimumWages::bundled`] parses `data/guizhou-minimum-wage.toml`, compiled in. **Its
//! figures could not be sourced from the official notice**: they are the standard in force from
//! 2023-02-01 (monthly 1,890 / 1,760 / 1,660 yuan, hourly 19.6 / 18.3 / 17.2 yuan), as two
//! agreeing secondary reports give them, without the document number; a later adjustment from
//! 2025-02-01 (class 1 reported at 2,130 yuan a month) is probably in force, but its other
//! figures were not found. The annex assigning counties to classes was not found either, so
//! the bundled table lists no counties and every county gets class 3. The file's header says
//! the same. A node should load the current table from the official notice with
//! [`MinimumWages::from_toml`]; the format is the bundled file's.
//!
//! The module is pure: the table does not know today's date, and nothing here reads a file.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::dates;
use crate::error::{Error, Result};
use crate::region::{Level, RegionCode};

/// The bundled table, embedded at compile time.
const BUNDLED_TOML: &str = include_str!("../data/guizhou-minimum-wage.toml");

/// The field named in every error of [`MinimumWages::from_toml`].
const FIELD: &str = "minimum_wage";

/// The document a table comes from.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WageSource {
    /// The document's title (or a description of the standard when the title is unknown).
    pub title_zh: String,
    #[serde(default)]
    pub title_en: String,
    /// The document number, such as 黔府发〔2024〕1号; empty when unknown.
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub publisher_zh: String,
    /// The date the standard was announced, `YYYY-MM-DD`, if known.
    #[serde(default)]
    pub announced: Option<String>,
    /// The date the standard took effect, `YYYY-MM-DD`.
    pub effective: String,
    /// Where the figures were taken from.
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// One class of areas and its standards, in yuan.
#[derive(Clone, Debug, PartialEq)]
pub struct WageClass {
    /// The class number as the notice writes it (1 is the highest).
    pub class: u8,
    pub name_zh: String,
    pub name_en: String,
    /// The monthly standard (full-time work).
    pub monthly: f64,
    /// The hourly standard (non-full-time work).
    pub hourly: f64,
    /// The daily floor: the table's own figure, or monthly ÷ the table's `day_divisor`.
    pub daily: f64,
    /// The 6-digit county codes the notice puts in this class.
    pub counties: Vec<RegionCode>,
}

/// A province's minimum wage table: classes, their counties, and the source document.
#[derive(Clone, Debug, PartialEq)]
pub struct MinimumWages {
    province: RegionCode,
    day_divisor: f64,
    source: WageSource,
    classes: Vec<WageClass>,
    /// County → index into `classes`.
    by_county: HashMap<RegionCode, usize>,
    /// Index of the class with the lowest monthly standard.
    lowest: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    province: String,
    day_divisor: f64,
    source: WageSource,
    class: Vec<RawClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    class: u8,
    name_zh: String,
    #[serde(default)]
    name_en: String,
    monthly: f64,
    hourly: f64,
    #[serde(default)]
    daily: Option<f64>,
    #[serde(default)]
    counties: Vec<String>,
}

/// An error of [`MinimumWages::from_toml`].
fn bad(rule: impl Into<String>, rule_zh: impl Into<String>) -> Error {
    Error::invalid(FIELD, rule, rule_zh)
}

/// A wage figure must be a positive, finite number of yuan.
fn check_amount(class: u8, what: &str, what_zh: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(
            format!("class {class}: the {what} figure must be a positive number of yuan"),
            format!("第 {class} 类：{what_zh}标准必须是大于 0 的金额（元）"),
        ))
    }
}

impl MinimumWages {
    /// The bundled Guizhou table (`data/guizhou-minimum-wage.toml`), parsed once. See the
    /// module docs for how current it is.
    pub fn bundled() -> &'static MinimumWages {
        static TABLE: OnceLock<MinimumWages> = OnceLock::new();
        TABLE.get_or_init(|| {
            MinimumWages::from_toml(BUNDLED_TOML).expect("the bundled minimum wage table parses")
        })
    }

    /// Parses a table in the format of `data/guizhou-minimum-wage.toml`: a `province` code, a
    /// `day_divisor`, a `[source]` with at least `title_zh` and `effective`, and one or more
    /// `[[class]]` with `class`, `name_zh`, `monthly`, `hourly`, optionally `daily`,
    /// `name_en` and `counties` (6-digit county codes inside the province, each in one class
    /// only). Class numbers must be distinct. Errors name the field `minimum_wage`.
    pub fn from_toml(text: &str) -> Result<MinimumWages> {
        let raw: RawTable = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            bad(
                format!("the table is not valid: {msg}"),
                format!("最低工资标准表格式错误：{msg}"),
            )
        })?;
        let province = RegionCode::parse(&raw.province)
            .ok()
            .filter(|p| p.level() == Level::Province)
            .ok_or_else(|| {
                bad(
                    format!(
                        "province {:?} must be a 2-digit province code",
                        raw.province
                    ),
                    format!("province “{}”必须是 2 位省级代码", raw.province),
                )
            })?;
        if !(raw.day_divisor.is_finite() && (1.0..=31.0).contains(&raw.day_divisor)) {
            return Err(bad(
                "day_divisor must be a number of days between 1 and 31 (21.75 by law)",
                "day_divisor 必须是 1 到 31 之间的天数（按规定为 21.75）",
            ));
        }
        let checked_dates = [
            ("effective", Some(&raw.source.effective)),
            ("announced", raw.source.announced.as_ref()),
        ];
        for (what, date) in checked_dates {
            let Some(date) = date else { continue };
            dates::parse_date(FIELD, date).map_err(|_| {
                bad(
                    format!("source.{what} {date:?} must be a date YYYY-MM-DD"),
                    format!("source.{what}“{date}”必须是 YYYY-MM-DD 格式的日期"),
                )
            })?;
        }
        if raw.source.title_zh.trim().is_empty() {
            return Err(bad(
                "source.title_zh must name the document",
                "source.title_zh 必须写明文件名称",
            ));
        }
        if raw.class.is_empty() {
            return Err(bad(
                "the table must have at least one [[class]]",
                "表中至少要有一个 [[class]]",
            ));
        }
        let mut classes = Vec::with_capacity(raw.class.len());
        let mut by_county = HashMap::new();
        for (index, c) in raw.class.into_iter().enumerate() {
            if classes.iter().any(|k: &WageClass| k.class == c.class) {
                return Err(bad(
                    format!("class {} appears twice", c.class),
                    format!("第 {} 类出现了两次", c.class),
                ));
            }
            let monthly = check_amount(c.class, "monthly", "月最低工资", c.monthly)?;
            let hourly = check_amount(c.class, "hourly", "小时最低工资", c.hourly)?;
            let daily = match c.daily {
                Some(d) => check_amount(c.class, "daily", "日最低工资", d)?,
                None => monthly / raw.day_divisor,
            };
            let mut counties = Vec::with_capacity(c.counties.len());
            for county in &c.counties {
                let code = RegionCode::parse(county)
                    .ok()
                    .filter(|r| r.level() == Level::County && province.contains(r))
                    .ok_or_else(|| {
                        bad(
                            format!(
                                "class {}: {county:?} must be a 6-digit county code in province {province}",
                                c.class
                            ),
                            format!(
                                "第 {} 类：“{county}”必须是 {province} 省内的 6 位县级代码",
                                c.class
                            ),
                        )
                    })?;
                if let Some(other) = by_county.insert(code, index) {
                    let other: u8 = if other == index {
                        c.class
                    } else {
                        classes.get(other).map_or(c.class, |k: &WageClass| k.class)
                    };
                    return Err(bad(
                        format!(
                            "county {code} is listed twice (classes {other} and {})",
                            c.class
                        ),
                        format!("县 {code} 被重复列出（第 {other} 类和第 {} 类）", c.class),
                    ));
                }
                counties.push(code);
            }
            classes.push(WageClass {
                class: c.class,
                name_zh: c.name_zh,
                name_en: c.name_en,
                monthly,
                hourly,
                daily,
                counties,
            });
        }
        let lowest = (0..classes.len())
            .min_by(|&a, &b| classes[a].monthly.total_cmp(&classes[b].monthly))
            .expect("at least one class");
        Ok(MinimumWages {
            province,
            day_divisor: raw.day_divisor,
            source: raw.source,
            classes,
            by_county,
            lowest,
        })
    }

    /// The province the table is for.
    pub fn province(&self) -> RegionCode {
        self.province
    }

    /// The document the figures come from.
    pub fn source(&self) -> &WageSource {
        &self.source
    }

    /// The classes, in the table's order.
    pub fn classes(&self) -> &[WageClass] {
        &self.classes
    }

    /// The number of days a monthly figure is divided by for a daily floor.
    pub fn day_divisor(&self) -> f64 {
        self.day_divisor
    }

    /// The class of a region: its county's class; the lowest class for a county the table
    /// does not list or a region above county level; `None` outside the table's province.
    pub fn class_of(&self, region: &RegionCode) -> Option<&WageClass> {
        if !self.province.contains(region) {
            return None;
        }
        let index = region
            .ancestor_at(Level::County)
            .and_then(|county| self.by_county.get(&county).copied())
            .unwrap_or(self.lowest);
        Some(&self.classes[index])
    }

    /// The minimum wage in yuan per `unit` (`hour`, `day` or `month`) in `region`; `None` for
    /// `piece` and any other unit, and for regions outside the table's province.
    pub fn floor(&self, region: &RegionCode, unit: &str) -> Option<f64> {
        let class = self.class_of(region)?;
        match unit {
            "hour" => Some(class.hourly),
            "day" => Some(class.daily),
            "month" => Some(class.monthly),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    const SMALL: &str = r#"
province = "52"
day_divisor = 21.75

[source]
title_zh = "测试"
effective = "2025-02-01"

[[class]]
class = 1
name_zh = "一类区域"
monthly = 2130
hourly = 22.4
counties = ["520102", "520103"]

[[class]]
class = 2
name_zh = "二类区域"
monthly = 2000
hourly = 21
daily = 100
counties = ["520111"]

[[class]]
class = 3
name_zh = "三类区域"
monthly = 1900
hourly = 20
"#;

    fn rule_of(text: &str) -> String {
        match MinimumWages::from_toml(text) {
            Err(Error::InvalidField { field, rule, .. }) => {
                assert_eq!(field, FIELD);
                rule
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn the_bundled_table_parses_and_says_where_it_comes_from() {
        let t = MinimumWages::bundled();
        assert_eq!(t.province(), RegionCode::GUIZHOU);
        assert_eq!(t.source().effective, "2023-02-01");
        assert!(!t.source().references.is_empty());
        let figures: Vec<(u8, f64, f64)> = t
            .classes()
            .iter()
            .map(|c| (c.class, c.monthly, c.hourly))
            .collect();
        assert_eq!(
            figures,
            [(1, 1890.0, 19.6), (2, 1760.0, 18.3), (3, 1660.0, 17.2)]
        );
    }

    #[test]
    fn bundled_floors_fall_back_to_the_lowest_class() {
        // The bundled table lists no counties (the annex was not found): class 3 everywhere.
        let t = MinimumWages::bundled();
        for region in ["52", "5201", "520102", "520102016", "522631101201"] {
            let r = code(region);
            assert_eq!(t.class_of(&r).unwrap().class, 3, "{region}");
            assert_eq!(t.floor(&r, "month"), Some(1660.0));
            assert_eq!(t.floor(&r, "hour"), Some(17.2));
            assert_eq!(t.floor(&r, "day"), Some(1660.0 / 21.75));
            assert_eq!(t.floor(&r, "piece"), None);
            assert_eq!(t.floor(&r, "week"), None);
        }
        assert_eq!(t.floor(&code("5101"), "month"), None);
    }

    #[test]
    fn a_region_takes_its_county_class() {
        let t = MinimumWages::from_toml(SMALL).unwrap();
        assert_eq!(t.floor(&code("520102"), "month"), Some(2130.0));
        assert_eq!(t.floor(&code("520103001001"), "hour"), Some(22.4));
        assert_eq!(t.floor(&code("520111"), "day"), Some(100.0));
        assert_eq!(t.floor(&code("520102"), "day"), Some(2130.0 / 21.75));
        // An unlisted county, a city and the province: the lowest class.
        assert_eq!(t.floor(&code("520112"), "month"), Some(1900.0));
        assert_eq!(t.floor(&code("5201"), "month"), Some(1900.0));
        assert_eq!(t.floor(&code("52"), "hour"), Some(20.0));
        assert_eq!(t.class_of(&code("5301")), None);
    }

    #[test]
    fn malformed_tables_are_refused() {
        assert!(rule_of("province = ").contains("not valid"));
        assert!(
            rule_of(&SMALL.replace("province = \"52\"", "province = \"5201\""))
                .contains("province")
        );
        assert!(rule_of(&SMALL.replace("21.75", "0")).contains("day_divisor"));
        assert!(rule_of(&SMALL.replace("2025-02-01", "2025-02-30")).contains("source.effective"));
        assert!(rule_of(&SMALL.replace("monthly = 2000", "monthly = -1")).contains("class 2"));
        assert!(rule_of(&SMALL.replace("hourly = 20", "hourly = nan")).contains("hourly"));
        assert!(rule_of(&SMALL.replace("\"520111\"", "\"520102\"")).contains("listed twice"));
        assert!(
            rule_of(&SMALL.replace("\"520111\"", "\"520111\", \"520111\""))
                .contains("listed twice")
        );
        assert!(rule_of(&SMALL.replace("\"520111\"", "\"5201\"")).contains("6-digit county"));
        assert!(rule_of(&SMALL.replace("\"520111\"", "\"510104\"")).contains("6-digit county"));
        assert!(rule_of(&SMALL.replace("class = 3", "class = 1")).contains("twice"));
        assert!(
            rule_of(&SMALL.replace("hourly = 20", "hourly = 20\nweekly = 1")).contains("not valid")
        );
        let no_classes = SMALL.split("[[class]]").next().unwrap();
        assert!(rule_of(no_classes).contains("not valid"));
        let empty = no_classes.replace("day_divisor", "class = []\nday_divisor");
        assert!(rule_of(&empty).contains("at least one"));
    }
}
