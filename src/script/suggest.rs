//! "Did you mean …?": the nearest known name to a misspelt one.
//!
//! The distance is the optimal string alignment distance (Levenshtein plus swaps of
//! two neighbouring characters, so `succeed`/`sucecd` count one edit per swap),
//! counted in characters. Only close matches are suggested: at most one edit per
//! three characters of the longer name (and at least one), and fewer edits than the
//! shorter name has characters, so `x` never suggests `y`.

/// The candidate closest to `name`, if one is close enough to be a likely typo.
/// Ties go to the candidate that comes first.
pub(crate) fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name: Vec<char> = name.chars().collect();
    let mut best: Option<(usize, &'a str)> = None;
    let mut scratch = Scratch::default();
    for candidate in candidates {
        let other: Vec<char> = candidate.chars().collect();
        let longer = name.len().max(other.len());
        let shorter = name.len().min(other.len());
        let limit = (longer / 3).max(1);
        if longer - shorter > limit {
            continue;
        }
        let distance = scratch.distance(&name, &other);
        let close = distance <= limit && distance < shorter;
        if close && best.is_none_or(|(best, _)| distance < best) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// The three rows of the distance table, kept between candidates.
#[derive(Default)]
struct Scratch {
    before: Vec<usize>,
    previous: Vec<usize>,
    current: Vec<usize>,
}

impl Scratch {
    /// The optimal string alignment distance between `a` and `b`.
    fn distance(&mut self, a: &[char], b: &[char]) -> usize {
        let Scratch {
            before,
            previous,
            current,
        } = self;
        before.clear();
        before.resize(b.len() + 1, 0);
        previous.clear();
        previous.extend(0..=b.len());
        current.clear();
        current.resize(b.len() + 1, 0);
        for i in 1..=a.len() {
            current[0] = i;
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut value = (previous[j] + 1)
                    .min(current[j - 1] + 1)
                    .min(previous[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    value = value.min(before[j - 2] + 1);
                }
                current[j] = value;
            }
            std::mem::swap(before, previous);
            std::mem::swap(previous, current);
        }
        previous[b.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHODS: &[&str] = &[
        "start_all",
        "start",
        "shutdown",
        "succeed",
        "fail",
        "execute",
        "wait_until_succeeds",
        "wait_until_fails",
    ];

    #[track_caller]
    fn check(name: &str, expected: Option<&str>) {
        assert_eq!(nearest(name, METHODS.iter().copied()), expected);
    }

    #[test]
    fn close_names() {
        check("succed", Some("succeed"));
        check("suceed", Some("succeed"));
        check("sucecde", Some("succeed"));
        check("Succeed", Some("succeed"));
        check("strat_all", Some("start_all"));
        check("startall", Some("start_all"));
        check("stat", Some("start"));
        check("fial", Some("fail"));
        check("wait_until_succeed", Some("wait_until_succeeds"));
        check("wait_until_fail", Some("wait_until_fails"));
        check("exec", None);
    }

    #[test]
    fn exact_match_wins() {
        check("start", Some("start"));
        check("fail", Some("fail"));
    }

    #[test]
    fn far_names() {
        check("reboot", None);
        check("x", None);
        check("", None);
        check("screenshot", None);
        assert_eq!(nearest("x", ["y"]), None);
        assert_eq!(nearest("ab", ["ac"]), Some("ac"));
        assert_eq!(nearest("anything", []), None);
    }

    #[test]
    fn ties_go_to_the_first() {
        assert_eq!(nearest("cat", ["bat", "hat"]), Some("bat"));
        assert_eq!(nearest("cat", ["hat", "bat"]), Some("hat"));
    }

    #[test]
    fn distances() {
        let mut scratch = Scratch::default();
        let mut distance = |a: &str, b: &str| {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            scratch.distance(&a, &b)
        };
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("timeout", "tiemout"), 1);
        assert_eq!(distance("ça", "ca"), 1);
    }
}
