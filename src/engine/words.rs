//! Whole words in a script's text, found without compiling it: what must be known before the compile
//! (the item variables of repeated steps, the stdlib modules a script reaches).

/// After each place `word` stands in `text` as a whole word (no letter, digit or `_` on either side), the
/// rest of the text.
pub fn after_whole_word<'t>(text: &'t str, word: &'t str) -> impl Iterator<Item = &'t str> + 't {
    text.match_indices(word).filter(|_| !word.is_empty()).filter_map(move |(at, _)| {
        let after = &text[at + word.len()..];
        let joined =
            text[..at].bytes().next_back().is_some_and(is_word_byte) || after.bytes().next().is_some_and(is_word_byte);
        (!joined).then_some(after)
    })
}

pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::after_whole_word;

    #[test]
    fn only_whole_words_are_found_with_what_follows_them() {
        let found: Vec<&str> = after_whole_word("eval(x); evaluate; re_eval; eval", "eval").collect();
        assert_eq!(found, ["(x); evaluate; re_eval; eval", ""]);
        assert_eq!(after_whole_word("abc", "").count(), 0);
    }
}
