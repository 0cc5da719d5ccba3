//! English function words that carry no meaning on their own. They are dropped when they stand
//! alone in prose, never when they are part of an identifier (`my_variable`, `is_empty`).

/// True for a lowercased English stop word.
pub fn is_stop_word(lowercased: &str) -> bool {
    // A match on string literals compiles to a length switch and a few comparisons: much cheaper
    // than hashing or a binary search, and this runs for every word of every message.
    matches!(
        lowercased,
        "a" | "about" | "above" | "after" | "again" | "against" | "all" | "am" | "an" | "and"
            | "any" | "are" | "as" | "at" | "be" | "because" | "been" | "before" | "being"
            | "below" | "between" | "both" | "but" | "by" | "can" | "could" | "did" | "do"
            | "does" | "doing" | "down" | "during" | "each" | "few" | "for" | "from"
            | "further" | "had" | "has" | "have" | "having" | "he" | "her" | "here" | "hers"
            | "herself" | "him" | "himself" | "his" | "how" | "i" | "if" | "in" | "into" | "is"
            | "it" | "it's" | "its" | "itself" | "just" | "me" | "more" | "most" | "my"
            | "myself" | "no" | "nor" | "not" | "now" | "of" | "off" | "on" | "once" | "only"
            | "or" | "other" | "our" | "ours" | "ourselves" | "out" | "over" | "own" | "same"
            | "she" | "should" | "so" | "some" | "such" | "than" | "that" | "the" | "their"
            | "theirs" | "them" | "themselves" | "then" | "there" | "these" | "they" | "this"
            | "those" | "through" | "to" | "too" | "under" | "until" | "up" | "very" | "was"
            | "we" | "were" | "what" | "when" | "where" | "which" | "while" | "who" | "whom"
            | "why" | "will" | "with" | "would" | "you" | "your" | "yours" | "yourself"
            | "yourselves"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_stop_words_only() {
        assert!(is_stop_word("the") && is_stop_word("my") && is_stop_word("it's"));
        assert!(!is_stop_word("handler") && !is_stop_word("The") && !is_stop_word(""));
    }
}
