//! A phase's planned window ("06:00-12:00", runbook 1.1) and how the phase kept it: judged in the run's
//! output when the phase ends, and again by `golive status` from the journal (for a phase still running,
//! against the time now).

use std::time::Duration;

use chrono::Timelike;

/// The local time of day of an instant, in minutes after midnight (as the runbook's schedule is written).
pub fn minute_of_day<T: Timelike>(at: &T) -> i64 {
    i64::from(at.hour() * 60 + at.minute())
}

/// A planned time window, "06:00-12:00" (may cross midnight).
#[derive(Debug)]
pub struct Window {
    pub text: String,
    /// Its start, in minutes after midnight (local time, as the runbook's schedule is written).
    from: i64,
    pub length: Duration,
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, String> {
        let bad = || format!("`{text}` is not a time window; write it like \"06:00-12:00\"");
        let (from, to) = text.split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Result<i64, String> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if !(0..24).contains(&h) || !(0..60).contains(&m) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        // "18:00-18:00" is the runbook's 24-hour monitoring window, not an empty one.
        let span = match (minutes(to)? - minutes(from)?).rem_euclid(24 * 60) {
            0 => 24 * 60,
            span => span,
        };
        Ok(Window { text: text.into(), from: minutes(from)?, length: Duration::from_secs(span as u64 * 60) })
    }

    /// The planned start nearest to an actual start (a start more than 12 hours off is read as the
    /// window of the day before or after, as `judge` does), and the planned end.
    pub fn planned_around(
        &self,
        started: &chrono::DateTime<chrono::FixedOffset>,
    ) -> (chrono::DateTime<chrono::FixedOffset>, chrono::DateTime<chrono::FixedOffset>) {
        let mut offset = minute_of_day(started) - self.from;
        if offset > 12 * 60 {
            offset -= 24 * 60;
        } else if offset < -12 * 60 {
            offset += 24 * 60;
        }
        let seconds = i64::from(started.second());
        let start = *started
            - chrono::Duration::minutes(offset)
            - chrono::Duration::seconds(seconds)
            - chrono::Duration::nanoseconds(i64::from(started.nanosecond()));
        (start, start + chrono::Duration::from_std(self.length).unwrap_or_default())
    }

    /// How a phase kept its window: started on time, late or early (more than 5 minutes either way), and
    /// whether it ran past the window's end or longer than the window lasts. `started` is the local time of
    /// day in minutes; a start more than 12 hours off is read as the window of the day before or after.
    pub fn judge(&self, started: i64, elapsed: Duration) -> (String, bool) {
        let mut offset = started - self.from;
        if offset > 12 * 60 {
            offset -= 24 * 60;
        } else if offset < -12 * 60 {
            offset += 24 * 60;
        }
        let minutes = |m: i64| match (m.abs() / 60, m.abs() % 60) {
            (0, m) => format!("{m}m"),
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m:02}m"),
        };
        let length = self.length.as_secs() as i64 / 60;
        let ran = elapsed.as_secs() as i64 / 60;
        let mut said = Vec::new();
        if offset > 5 {
            said.push(format!("started {} late", minutes(offset)));
        } else if offset < -5 {
            said.push(format!("started {} early", minutes(offset)));
        } else {
            said.push("started on time".into());
        }
        let past_end = offset + ran - length;
        let bad = if ran > length {
            said.push(format!("ran over its {} by {}", minutes(length), minutes(ran - length)));
            true
        } else if past_end > 0 {
            said.push(format!("ended {} after the window", minutes(past_end)));
            true
        } else {
            said.push("within the window".into());
            offset > 5
        };
        (said.join(", "), bad)
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn windows_parse_and_may_cross_midnight() {
        assert_eq!(Window::parse("06:00-12:00").unwrap().length.as_secs(), 6 * 3600);
        assert_eq!(Window::parse("18:00-18:00").unwrap().length.as_secs(), 24 * 3600);
        assert_eq!(Window::parse("22:00-02:30").unwrap().length.as_secs(), 4 * 3600 + 1800);
        assert!(Window::parse("6am-noon").unwrap_err().contains("06:00-12:00"));
    }

    fn judged(window: &str, started: &str, minutes: u64) -> String {
        let (h, m) = started.split_once(':').unwrap();
        let started = h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap();
        Window::parse(window).unwrap().judge(started, std::time::Duration::from_secs(minutes * 60)).0
    }

    #[test]
    fn a_phase_is_judged_against_its_window() {
        assert_eq!(judged("06:00-12:00", "06:02", 300), "started on time, within the window");
        assert_eq!(judged("06:00-12:00", "07:30", 300), "started 1h30m late, ended 30m after the window");
        assert_eq!(judged("06:00-12:00", "06:00", 420), "started on time, ran over its 6h by 1h");
        assert_eq!(judged("12:00-16:00", "03:39", 1), "started 8h21m early, within the window");
        assert_eq!(judged("18:00-18:00", "17:58", 1440), "started on time, within the window");
        assert_eq!(judged("23:30-00:30", "00:10", 10), "started 40m late, within the window");
    }
}
