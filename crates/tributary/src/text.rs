//! Helpers for messages to people: the nearest known name to a mistyped one.

/// How many single-character edits a mistyped name may be from a known one to be suggested.
const MAX_TYPO_EDITS: usize = 3;

/// The known name closest to `word`, if it is a small typo away (ties go to the first
/// in alphabetical order).
pub fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (edit_distance(candidate, word), candidate))
        .filter(|(distance, _)| *distance <= MAX_TYPO_EDITS)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance: insertions, deletions and substitutions of one character.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn the_nearest_name_is_suggested_only_when_close() {
        let known = ["listen", "log", "limits"];
        assert_eq!(nearest("lisen", known), Some("listen"));
        assert_eq!(nearest("logs", known), Some("log"));
        assert_eq!(nearest("database_urll", known), None);
    }
}
