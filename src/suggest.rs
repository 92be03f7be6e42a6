//! "Did you mean" hints for names an operator mistyped.

/// ", did you mean `x`?" for the closest candidate, or "" when none is close.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(wrong, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != wrong)
        .map(|c| (strsim::damerau_levenshtein(wrong, c), c))
        .filter(|(distance, c)| *distance <= (c.len().max(wrong.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_only_close_names() {
        assert_eq!(super::closest("rnu", ["run", "exec"]), Some("run"));
        assert_eq!(super::closest("deploy", ["run", "exec"]), None);
    }
}
