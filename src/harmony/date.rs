//! The two dates in the system preamble: the conversation's current date
//! (`YYYY-MM-DD`) and the model's knowledge cutoff (`YYYY-MM`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::HarmonyError;

/// A calendar date, written `YYYY-MM-DD` (the system preamble's "Current date").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CalendarDate {
    year: u16,
    month: u8,
    day: u8,
}

impl CalendarDate {
    /// The date, or `None` if it does not exist (e.g. 2025-02-30).
    pub fn new(year: u16, month: u8, day: u8) -> Option<CalendarDate> {
        if year > 9999 || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        (day <= days_in_month(year, month)).then_some(CalendarDate { year, month, day })
    }

    /// Today's date in UTC, from the system clock.
    pub fn today_utc() -> CalendarDate {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        CalendarDate::from_days_since_epoch((secs / 86_400) as i64)
    }

    /// The date `days` days after 1970-01-01 (civil-from-days, proleptic Gregorian).
    fn from_days_since_epoch(days: i64) -> CalendarDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        CalendarDate {
            year: year.clamp(0, 9999) as u16,
            month,
            day,
        }
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for CalendarDate {
    type Err = HarmonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HarmonyError::InvalidDate {
            given: s.to_string(),
        };
        let mut parts = s.trim().split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let year = number(y, 4).ok_or_else(bad)?;
        let month = number(m, 2).ok_or_else(bad)? as u8;
        let day = number(d, 2).ok_or_else(bad)? as u8;
        CalendarDate::new(year, month, day).ok_or_else(bad)
    }
}

/// A year and month, written `YYYY-MM` (the system preamble's "Knowledge cutoff").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct YearMonth {
    year: u16,
    month: u8,
}

impl YearMonth {
    /// gpt-oss's knowledge cutoff, June 2024.
    pub const GPT_OSS_CUTOFF: YearMonth = YearMonth {
        year: 2024,
        month: 6,
    };

    /// The month, or `None` if `month` is not 1 to 12.
    pub fn new(year: u16, month: u8) -> Option<YearMonth> {
        (year <= 9999 && (1..=12).contains(&month)).then_some(YearMonth { year, month })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = HarmonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HarmonyError::InvalidYearMonth {
            given: s.to_string(),
        };
        let Some((y, m)) = s.trim().split_once('-') else {
            return Err(bad());
        };
        YearMonth::new(
            number(y, 4).ok_or_else(bad)?,
            number(m, 2).ok_or_else(bad)? as u8,
        )
        .ok_or_else(bad)
    }
}

impl From<CalendarDate> for String {
    fn from(d: CalendarDate) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for CalendarDate {
    type Error = HarmonyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<YearMonth> for String {
    fn from(d: YearMonth) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for YearMonth {
    type Error = HarmonyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// `s` as a number of exactly `digits` ASCII digits.
fn number(s: &str, digits: usize) -> Option<u16> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d: CalendarDate = "2025-06-28".parse().expect("valid date");
        assert_eq!(d.to_string(), "2025-06-28");
        assert_eq!((d.year(), d.month(), d.day()), (2025, 6, 28));
        let ym: YearMonth = "2024-06".parse().expect("valid month");
        assert_eq!(ym, YearMonth::GPT_OSS_CUTOFF);
        assert_eq!(ym.to_string(), "2024-06");
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "2025-02-30",
            "2025-13-01",
            "2025-6-28",
            "25-06-28",
            "2025-06",
            "2025-06-28-1",
            "x",
            "",
        ] {
            let err = bad.parse::<CalendarDate>().expect_err(bad);
            assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
        }
        assert!("2024-02-29".parse::<CalendarDate>().is_ok());
        assert!("2023-02-29".parse::<CalendarDate>().is_err());
        assert!("2024-00".parse::<YearMonth>().is_err());
        assert!("2024/06".parse::<YearMonth>().is_err());
    }

    #[test]
    fn civil_from_days() {
        assert_eq!(
            CalendarDate::from_days_since_epoch(0).to_string(),
            "1970-01-01"
        );
        assert_eq!(
            CalendarDate::from_days_since_epoch(11_017).to_string(),
            "2000-03-01"
        );
        assert_eq!(
            CalendarDate::from_days_since_epoch(20_267).to_string(),
            "2025-06-28"
        );
        assert!(CalendarDate::today_utc().year() >= 2025);
    }
}
