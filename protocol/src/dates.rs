//! Calendar dates and timestamps without a clock: `YYYY-MM-DD` parsing, RFC 3339 formatting,
//! and day arithmetic (proleptic Gregorian, UTC+8 for "today" in Guizhou).
//!
//! The civil-from-days conversion follows Howard Hinnant's public-domain algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>).

use crate::error::{Error, Result};

/// China Standard Time offset from UTC, in milliseconds.
pub const CST_OFFSET_MS: i64 = 8 * 3_600_000;

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Parses `YYYY-MM-DD` into a day number; `field` names the input in the error.
pub fn parse_date(field: &'static str, s: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(
            field,
            format!("must be a date YYYY-MM-DD, not {s:?}"),
            format!("必须是 YYYY-MM-DD 格式的日期，而不是 {s:?}"),
        )
    };
    let parts: Vec<&str> = s.trim().split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let y: i64 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    let d: u32 = parts[2].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || d == 0 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return Err(bad());
    }
    Ok(days)
}

/// `YYYY-MM-DD` of a day number.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of "today" in China Standard Time at `now_ms`.
pub fn today_cst(now_ms: i64) -> i64 {
    (now_ms + CST_OFFSET_MS).div_euclid(86_400_000)
}

/// The day number, in China Standard Time, of an RFC 3339 time ([`parse_rfc3339`]; the node
/// writes its times in UTC, so between 00:00 and 08:00 in China the UTC date is the day
/// before); `None` when it is not one.
pub fn cst_day_of(time: &str) -> Option<i64> {
    parse_rfc3339(time).map(today_cst)
}

/// An RFC 3339 time ([`parse_rfc3339`]) as clerks in Guizhou read a clock: China Standard
/// Time, `YYYY-MM-DD HH:MM:SS` (the node writes its times in UTC); `None` when it is not one.
pub fn cst_time(time: &str) -> Option<String> {
    let utc = rfc3339(parse_rfc3339(time)? + CST_OFFSET_MS);
    Some(format!("{} {}", &utc[..10], &utc[11..19]))
}

/// RFC 3339 in UTC with a `Z`, to the second.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Parses an RFC 3339 time (`2026-11-15T09:00:00Z`, `…+08:00`, fractions of a second
/// allowed) into unix milliseconds; `None` when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_at_checked(10)?;
    let days = parse_date("time", date).ok()?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let parts: Vec<i64> = hms
        .split(':')
        .map(|p| (p.len() == 2).then(|| p.parse().ok()).flatten())
        .collect::<Option<_>>()?;
    let [h, m, sec] = parts[..] else { return None };
    if h > 23 || m > 59 || sec > 60 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let ms_frac: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let offset_min = match zone {
        "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (oh, om) = z[1..].split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?)
        }
    };
    Some(((days * 86_400 + h * 3600 + m * 60 + sec) - offset_min * 60) * 1000 + ms_frac)
}

/// `YYYY-MM` or `YYYY-Qn` → the first day and the day after the last, as day numbers.
pub fn parse_period(s: &str) -> Result<(i64, i64)> {
    let bad = || {
        Error::invalid(
            "period",
            format!("must be YYYY-MM or YYYY-Qn, not {s:?}"),
            format!("必须是 YYYY-MM 或 YYYY-Qn 格式，而不是 {s:?}"),
        )
    };
    let (y, rest) = s.trim().split_once('-').ok_or_else(bad)?;
    let y: i64 = y.parse().map_err(|_| bad())?;
    let (first_month, months) = if let Some(q) = rest.strip_prefix('Q') {
        let q: u32 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&q) {
            return Err(bad());
        }
        ((q - 1) * 3 + 1, 3)
    } else {
        let m: u32 = rest.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&m) || rest.len() != 2 {
            return Err(bad());
        }
        (m, 1)
    };
    let start = days_from_civil(y, first_month, 1);
    let end_month = first_month + months;
    let end = if end_month > 12 {
        days_from_civil(y + 1, end_month - 12, 1)
    } else {
        days_from_civil(y, end_month, 1)
    };
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_utc_time_reads_as_china_standard_time_across_midnight() {
        assert_eq!(
            super::cst_time("2026-12-07T21:42:01Z").as_deref(),
            Some("2026-12-08 05:42:01")
        );
        assert_eq!(
            super::cst_time("2026-12-07T09:00:00+08:00").as_deref(),
            Some("2026-12-07 09:00:00")
        );
        assert_eq!(super::cst_time("yesterday"), None);
    }

    use super::*;

    #[test]
    fn dates_round_trip_and_bad_dates_are_refused() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            format_date(parse_date("expires", "2026-02-28").unwrap()),
            "2026-02-28"
        );
        assert!(parse_date("expires", "2026-02-30").is_err());
        assert!(parse_date("expires", "2026-2-3").is_err());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2023-11-15T06:13:20.5+08:00"),
            Some(1_700_000_000_500)
        );
        assert_eq!(parse_rfc3339("2023-11-14"), None);
        assert_eq!(parse_rfc3339("2023-11-14T25:00:00Z"), None);
        let (a, b) = parse_period("2026-Q4").unwrap();
        assert_eq!(
            (format_date(a), format_date(b)),
            ("2026-10-01".into(), "2027-01-01".into())
        );
    }
}
