//! Time phrases in history queries: "the test command that failed yesterday" means the
//! commands of yesterday, ranked by "the test command that failed". [`split`] finds the
//! phrase, turns it into a window of start times (local time of day where it matters) and
//! returns the rest of the query.

/// A window of command start times, Unix ms, `since <= t < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub since_ms: i64,
    /// Exclusive end.
    pub until_ms: i64,
}

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// The local time zone's offset from UTC at `now_ms`, in ms.
pub fn local_offset_ms(now_ms: i64) -> i64 {
    let secs = now_ms.div_euclid(1000) as libc::time_t;
    // SAFETY: localtime_r fills a tm we own from a time_t we own.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff * 1000
    }
}

fn unit_ms(word: &str) -> Option<i64> {
    match word.trim_end_matches('s') {
        "minute" | "min" => Some(MIN),
        "hour" | "hr" => Some(HOUR),
        "day" => Some(DAY),
        "week" => Some(7 * DAY),
        _ => None,
    }
}

fn number(word: &str) -> Option<i64> {
    match word {
        "a" | "an" | "one" => Some(1),
        "two" => Some(2),
        "three" => Some(3),
        "few" => Some(3),
        _ => word
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=10_000).contains(n)),
    }
}

/// Finds a time phrase in `query`: the query without it, and its window. `offset_ms` is the
/// local zone's offset (see [`local_offset_ms`]).
pub fn split(query: &str, now_ms: i64, offset_ms: i64) -> (String, Option<Window>) {
    let words: Vec<&str> = query.split_whitespace().collect();
    let lower: Vec<String> = words
        .iter()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    let local_now = now_ms + offset_ms;
    let today = local_now.div_euclid(DAY) * DAY - offset_ms;
    let lw = |i: usize| lower.get(i).map(String::as_str).unwrap_or("");
    for i in 0..lower.len() {
        // (phrase length, window)
        let found: Option<(usize, Window)> = match lw(i) {
            "today" => Some((
                1,
                Window {
                    since_ms: today,
                    until_ms: now_ms + 1,
                },
            )),
            "yesterday" => Some((
                1,
                Window {
                    since_ms: today - DAY,
                    until_ms: today,
                },
            )),
            "tonight" => Some((
                1,
                Window {
                    since_ms: today + 18 * HOUR,
                    until_ms: today + DAY,
                },
            )),
            "this" => match lw(i + 1) {
                "morning" => Some((
                    2,
                    Window {
                        since_ms: today,
                        until_ms: today + 12 * HOUR,
                    },
                )),
                "afternoon" => Some((
                    2,
                    Window {
                        since_ms: today + 12 * HOUR,
                        until_ms: today + 18 * HOUR,
                    },
                )),
                "evening" => Some((
                    2,
                    Window {
                        since_ms: today + 18 * HOUR,
                        until_ms: today + DAY,
                    },
                )),
                "week" => Some((
                    2,
                    Window {
                        since_ms: now_ms - 7 * DAY,
                        until_ms: now_ms + 1,
                    },
                )),
                _ => None,
            },
            "last" | "past" => {
                if lw(i + 1) == "night" {
                    Some((
                        2,
                        Window {
                            since_ms: today - 6 * HOUR,
                            until_ms: today + 6 * HOUR,
                        },
                    ))
                } else if let Some(unit) = unit_ms(lw(i + 1)) {
                    Some((
                        2,
                        Window {
                            since_ms: now_ms - unit,
                            until_ms: now_ms + 1,
                        },
                    ))
                } else if let (Some(n), Some(unit)) = (number(lw(i + 1)), unit_ms(lw(i + 2))) {
                    Some((
                        3,
                        Window {
                            since_ms: now_ms - n * unit,
                            until_ms: now_ms + 1,
                        },
                    ))
                } else {
                    None
                }
            }
            w => match (number(w), unit_ms(lw(i + 1)), lw(i + 2)) {
                // "2 hours ago": a window one unit wide around that time.
                (Some(n), Some(unit), "ago") => Some((
                    3,
                    Window {
                        since_ms: now_ms - n * unit - unit / 2,
                        until_ms: now_ms - n * unit + unit / 2,
                    },
                )),
                _ => None,
            },
        };
        if let Some((len, window)) = found {
            // Drop a preposition that only led into the phrase ("in the last hour").
            let mut start = i;
            while start > 0
                && matches!(
                    lw(start - 1),
                    "in" | "the" | "from" | "during" | "over" | "since"
                )
            {
                start -= 1;
            }
            let rest: Vec<&str> = words[..start]
                .iter()
                .chain(words[i + len..].iter())
                .copied()
                .collect();
            return (rest.join(" "), Some(window));
        }
    }
    (query.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-27 15:00 UTC.
    const NOW: i64 = 1_795_791_600_000;

    #[test]
    fn yesterday_is_the_previous_local_day_and_leaves_the_rest() {
        let (rest, w) = split("the test command that failed yesterday", NOW, 0);
        assert_eq!(rest, "the test command that failed");
        let w = w.unwrap_or_else(|| panic!("no window"));
        assert_eq!(w.until_ms - w.since_ms, DAY);
        assert_eq!(w.until_ms, NOW - 15 * HOUR);
        // One hour east of UTC: local midnight is an hour earlier in UTC.
        let (_, east) = split("yesterday", NOW, HOUR);
        assert_eq!(east.map(|w| w.until_ms), Some(NOW - 16 * HOUR));
    }

    #[test]
    fn relative_phrases() {
        let (rest, w) = split("cargo build in the last 2 hours", NOW, 0);
        assert_eq!(rest, "cargo build");
        assert_eq!(w.map(|w| w.since_ms), Some(NOW - 2 * HOUR));
        let (rest, w) = split("deploy 3 days ago", NOW, 0);
        assert_eq!(rest, "deploy");
        assert_eq!(
            w.map(|w| (w.since_ms, w.until_ms)),
            Some((NOW - 3 * DAY - DAY / 2, NOW - 3 * DAY + DAY / 2))
        );
        let (rest, w) = split("npm test this morning", NOW, 0);
        assert_eq!(rest, "npm test");
        assert_eq!(w.map(|w| w.since_ms), Some(NOW - 15 * HOUR));
        assert_eq!(
            split("past week", NOW, 0).1.map(|w| w.since_ms),
            Some(NOW - 7 * DAY)
        );
    }

    #[test]
    fn queries_without_a_phrase_are_unchanged() {
        // "today.txt" is a file name, not a time.
        for q in ["last line of the log", "2 hours", "ago", "make today.txt"] {
            assert_eq!(split(q, NOW, 0), (q.to_owned(), None), "{q}");
        }
    }
}
