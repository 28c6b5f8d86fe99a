//! Values as people write them in their own sheets, read into what the record stores: days
//! (`2026/11/3`, `2026年11月3日`, Excel day numbers), purchase periods (`2027年1月`,
//! `2027年Q1`) and money (`50万`, `¥500,000`, `CN¥1,000`, `500,000.00`). Pure functions; each
//! error says what was written and what is accepted.

use chrono::{Days, NaiveDate};

use crate::model::Money;
use crate::text::fold;

/// The currency an amount without one is taken in: the team works in renminbi.
pub const DEFAULT_CURRENCY: &str = "CNY";

/// A day written `2026-11-03`, `2026/11/3`, `2026.11.3`, `2026年11月3日`, `20261103`, with
/// an optional time after it (`2026/11/3 0:00`, as Excel writes a date cell to CSV), or an
/// Excel day number (`46329`).
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let refused =
        || format!("`{text}` is not a date; write it like 2026-11-03, 2026/11/3 or 2026年11月3日");
    // Full-width digits and separators (２０２６／１１／３) are folded to ASCII first.
    let folded = fold(text);
    let folded = folded.trim();
    let day_part = folded
        .split([' ', 'T'])
        .next()
        .filter(|d| !d.is_empty())
        .ok_or_else(refused)?;
    if day_part.bytes().all(|b| b.is_ascii_digit()) {
        return match day_part.len() {
            8 => NaiveDate::parse_from_str(day_part, "%Y%m%d").map_err(|_| refused()),
            1..=5 => day_part
                .parse::<u32>()
                .ok()
                .and_then(excel_day)
                .ok_or_else(refused),
            _ => Err(refused()),
        };
    }
    let unified = day_part
        .trim_end_matches(['日', '号'])
        .replace(['年', '月', '/', '.'], "-");
    let parts: Vec<&str> = unified.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(refused());
    };
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    match (number(year), number(month), number(day)) {
        (Some(y), Some(m), Some(d)) if year.len() == 4 => {
            NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(refused)
        }
        _ => Err(refused()),
    }
}

/// The day an Excel day number stands for (1900 date system). Excel counts 1900-02-29,
/// which never was, so from day 61 on the days are counted from 1899-12-30.
pub fn excel_day(serial: u32) -> Option<NaiveDate> {
    let epoch = if serial >= 61 {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    };
    (serial >= 1)
        .then(|| epoch.checked_add_days(Days::new(u64::from(serial))))
        .flatten()
}

/// A purchase period as stored: a month `2027-01` or a quarter `2027-Q1`. Reads `2027-01`,
/// `2027/1`, `2027.1`, `2027年1月`, `2027-Q1`, `2027Q1`, `2027年Q1`, `2027年第1季度`,
/// `2027年一季度`.
pub fn parse_period(text: &str) -> Result<String, String> {
    let refused = || {
        format!(
            "`{text}` is not a month or a quarter; write it like 2027年1月, 2027-01, 2027年Q1 \
             or 2027-Q1"
        )
    };
    let folded: String = fold(text)
        .to_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let year = folded.get(..4).ok_or_else(refused)?;
    if !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    let rest = folded[4..].trim_start_matches(['年', '-', '/', '.']);
    let quarter = rest
        .strip_prefix('Q')
        .or_else(|| {
            rest.strip_suffix("季度")
                .map(|q| q.strip_prefix('第').unwrap_or(q))
        })
        .map(|q| match q {
            "1" | "一" => Some(1),
            "2" | "二" => Some(2),
            "3" | "三" => Some(3),
            "4" | "四" => Some(4),
            _ => None,
        });
    match quarter {
        Some(Some(q)) => return Ok(format!("{year}-Q{q}")),
        Some(None) => return Err(refused()),
        None => {}
    }
    let month = rest.strip_suffix('月').unwrap_or(rest);
    match month.parse::<u8>() {
        Ok(m @ 1..=12) if month.len() <= 2 && month.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(format!("{year}-{m:02}"))
        }
        _ => Err(refused()),
    }
}

/// An amount of money, exactly, in integer minor units: `500000`, `500,000.00`, `50万`,
/// `1.5万元`, `2亿`, `¥500,000`, `CN¥1,000`, `RMB 800`, `€1,200.50`, `US$300`, or as Outpost
/// writes it, `500000.00 CNY`. Without a currency it is [`DEFAULT_CURRENCY`]. Never a float:
/// the digits are read as text and scaled by powers of ten.
pub fn parse_money(text: &str) -> Result<Money, String> {
    let refused = |why: &str| {
        format!(
            "`{text}` is not an amount{why}; write it like 500000, 500,000.00, 50万, ¥500,000 \
             or 1200.50 EUR"
        )
    };
    // NFKC turns the full-width yen sign ￥ and full-width digits into their ASCII forms.
    let mut rest: String = fold(text).chars().filter(|c| !c.is_whitespace()).collect();
    let mut currency: Option<&str> = None;
    for (prefix, code) in [
        ("CN¥", "CNY"),
        ("RMB", "CNY"),
        ("CNY", "CNY"),
        ("¥", "CNY"),
        ("US$", "USD"),
        ("USD", "USD"),
        ("$", "USD"),
        ("€", "EUR"),
        ("EUR", "EUR"),
    ] {
        if let Some(after) = rest.strip_prefix(prefix) {
            currency = Some(code);
            rest = after.to_owned();
            break;
        }
    }
    for (suffix, code) in [("元", "CNY"), ("人民币", "CNY"), ("RMB", "CNY")] {
        if let Some(before) = rest.strip_suffix(suffix) {
            currency = currency.or(Some(code));
            rest = before.to_owned();
        }
    }
    // A trailing ISO code, as `Money` prints: `500000.00 CNY`.
    let mut trailing_code = None;
    if rest.len() > 3 && rest.is_char_boundary(rest.len() - 3) {
        let (number, code) = rest.split_at(rest.len() - 3);
        if code.bytes().all(|b| b.is_ascii_uppercase()) {
            trailing_code = Some(code.to_owned());
            rest = number.to_owned();
        }
    }
    let mut scale: u32 = 0;
    for (suffix, zeros) in [("万", 4), ("亿", 8), ("千", 3)] {
        if let Some(before) = rest.strip_suffix(suffix) {
            scale = zeros;
            rest = before.to_owned();
            break;
        }
    }
    let (whole, fraction) = rest.split_once('.').unwrap_or((rest.as_str(), ""));
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped_well = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !grouped_well || !groups.iter().all(|g| digits(g)) || !digits(fraction) {
        return Err(refused(""));
    }
    if rest.ends_with('.') {
        return Err(refused(""));
    }
    // Minor units are hundredths: the value's digits times 10^(scale + 2 - decimals).
    let decimals = u32::try_from(fraction.len()).map_err(|_| refused(""))?;
    let Some(shift) = (scale + 2).checked_sub(decimals) else {
        return Err(refused(" to the cent (at most 2 decimals)"));
    };
    let all_digits: String = groups.concat() + fraction;
    let minor = all_digits
        .parse::<i128>()
        .ok()
        .and_then(|v| v.checked_mul(10i128.checked_pow(shift)?))
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| refused(" (too large)"))?;
    let currency = match (currency, trailing_code) {
        (Some(a), Some(b)) if a != b => return Err(refused(" (two currencies)")),
        (_, Some(code)) => code,
        (Some(code), None) => code.to_owned(),
        (None, None) => DEFAULT_CURRENCY.to_owned(),
    };
    Ok(Money { minor, currency })
}

/// An amount as the export writes it, which [`parse_money`] reads back: `500000.00 CNY`.
pub fn money_text(money: &Money) -> String {
    money.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cny(minor: i64) -> Money {
        Money {
            minor,
            currency: "CNY".into(),
        }
    }

    #[test]
    fn days_in_the_forms_people_write() {
        for text in [
            "2026-11-03",
            "2026/11/3",
            "2026/11/03",
            "2026.11.3",
            "2026年11月3日",
            "2026年11月3号",
            "２０２６／１１／３",
            "20261103",
            "2026/11/3 0:00",
            "2026-11-03T00:00:00",
            " 2026-11-03 ",
        ] {
            assert_eq!(parse_day(text), Ok(day(2026, 11, 3)), "{text}");
        }
        for text in [
            "",
            "2026/13/1",
            "2026/2/30",
            "11/3/2026",
            "26/11/3",
            "last spring",
            "2026-11",
        ] {
            let error = parse_day(text).unwrap_err();
            assert!(error.contains("2026年11月3日"), "{text}: {error}");
        }
    }

    #[test]
    fn excel_day_numbers() {
        assert_eq!(excel_day(1), Some(day(1900, 1, 1)));
        assert_eq!(excel_day(59), Some(day(1900, 2, 28)));
        assert_eq!(excel_day(61), Some(day(1900, 3, 1)));
        assert_eq!(excel_day(46329), Some(day(2026, 11, 3)));
        assert_eq!(excel_day(0), None);
        assert_eq!(parse_day("46329"), Ok(day(2026, 11, 3)));
    }

    #[test]
    fn months_and_quarters() {
        for (text, stored) in [
            ("2027年1月", "2027-01"),
            ("2027-01", "2027-01"),
            ("2027/1", "2027-01"),
            ("2027.12", "2027-12"),
            ("2027年Q1", "2027-Q1"),
            ("2027年q2", "2027-Q2"),
            ("2027-Q3", "2027-Q3"),
            ("2027 Q4", "2027-Q4"),
            ("2027年第1季度", "2027-Q1"),
            ("2027年第三季度", "2027-Q3"),
            ("2027年二季度", "2027-Q2"),
            ("２０２７年１月", "2027-01"),
        ] {
            assert_eq!(parse_period(text).as_deref(), Ok(stored), "{text}");
        }
        for text in [
            "2027年13月",
            "2027-Q5",
            "soon",
            "27年1月",
            "2027",
            "2027年第五季度",
        ] {
            assert!(parse_period(text).is_err(), "{text}");
        }
    }

    #[test]
    fn money_exactly_in_minor_units() {
        for (text, minor) in [
            ("500000", 50_000_000),
            ("500,000", 50_000_000),
            ("500,000.00", 50_000_000),
            ("50万", 50_000_000),
            ("50万元", 50_000_000),
            ("1.5万", 1_500_000),
            ("0.01万", 10_000),
            ("2亿", 20_000_000_000),
            ("¥500,000", 50_000_000),
            ("￥500,000", 50_000_000),
            ("CN¥1,000", 100_000),
            ("RMB 800", 80_000),
            ("800元", 80_000),
            ("1234.5", 123_450),
            ("0.07", 7),
            ("0.001万", 1_000),
            ("500000.00 CNY", 50_000_000),
        ] {
            assert_eq!(parse_money(text), Ok(cny(minor)), "{text}");
        }
        assert_eq!(
            parse_money("€1,200.50"),
            Ok(Money {
                minor: 120_050,
                currency: "EUR".into()
            })
        );
        assert_eq!(
            parse_money("1200.50 EUR"),
            Ok(Money {
                minor: 120_050,
                currency: "EUR".into()
            })
        );
        assert_eq!(parse_money("US$300").map(|m| m.currency), Ok("USD".into()));
        for text in [
            "",
            "fifty",
            "1.234",
            "-5",
            "50,00",
            "1,2345",
            "5.",
            "¥",
            "¥10 EUR",
            "99999999999999999999",
        ] {
            assert!(parse_money(text).is_err(), "{text}");
        }
        // What the export writes reads back as the same amount.
        let m = cny(123_456_789);
        assert_eq!(parse_money(&money_text(&m)), Ok(m));
    }
}
