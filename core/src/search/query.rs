//! Web-search syntax for technical content, turned into a PostgreSQL `tsquery`.
//!
//! ```text
//! handler timeout            both words (AND)
//! "connection refused"       the exact phrase
//! E0382 or E0499             either (also OR, |)
//! deploy -staging            deploy but not staging (also -"a phrase")
//! (retry or backoff) redis   grouping
//! ```
//!
//! Every word is tokenized by the same rules as documents (`super::tokenizer`), so `getUserData`
//! finds the identifier itself or its parts as a phrase (`get_user_data`, "get user data"), and
//! `handler` finds `src/api/handler.rs`. Parsing never fails: input that holds nothing searchable
//! (punctuation, stop words, only exclusions) gives an empty query. A query of exclusions alone is
//! empty on purpose: it would match nearly everything and no index can answer it.

use std::collections::BTreeSet;

use super::tokenizer::{tokenize, Token, TokenKind};

/// Longest input considered; the rest is ignored.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Most terms and groups kept, so no query can make the database do unbounded work.
const MAX_NODES: usize = 64;
/// Deepest nesting of parentheses honoured; deeper ones are read as plain words.
const MAX_DEPTH: usize = 8;
/// Most words a phrase keeps (a quoted phrase, or the parts of one identifier); the rest of a
/// longer one is ignored. With `MAX_NODES` this bounds the work of matching one row, which a
/// single 4,000-part word (`aBaBaB…`) would otherwise make thousands of comparisons long.
pub const MAX_PHRASE_TERMS: usize = 32;

/// A parsed query: a boolean tree over lexemes and phrases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Lexeme(String),
    /// Lexemes at fixed distances: each element's distance from the previous one (the first's is 0).
    Phrase(Vec<(String, u16)>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// The result of parsing: possibly empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    root: Option<Node>,
}

impl Query {
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// The distinct lexemes that count for ranking and highlighting (those not under a NOT).
    pub fn positive_terms(&self) -> Vec<String> {
        let mut terms = BTreeSet::new();
        if let Some(root) = &self.root {
            collect_positive(root, &mut terms);
        }
        terms.into_iter().collect()
    }

    /// A `tsquery` literal PostgreSQL's input function always accepts; empty for an empty query.
    ///
    /// Lexemes are single-quoted with `'` doubled and `\` escaped; phrases use `<->` and `<N>`;
    /// `&`, `|`, `!` and parentheses combine them. No weights or prefix marks are emitted.
    pub fn to_tsquery_text(&self) -> String {
        self.root.as_ref().map(render).unwrap_or_default()
    }

    /// Like `to_tsquery_text`, with the last word of the query matched as a prefix (`'word':*`),
    /// for suggestions as the user types.
    pub fn to_prefix_tsquery_text(&self) -> String {
        match &self.root {
            None => String::new(),
            Some(root) => render(&with_last_as_prefix(root)),
        }
    }
}

/// Marks the last lexeme of a query for prefix matching; rendered with `:*`.
const PREFIX_MARK: char = '\u{1}';

fn with_last_as_prefix(node: &Node) -> Node {
    match node {
        Node::Lexeme(lexeme) => Node::Lexeme(format!("{lexeme}{PREFIX_MARK}")),
        Node::And(children) | Node::Or(children) => {
            let mut children = children.clone();
            if let Some(last) = children.last_mut() {
                *last = with_last_as_prefix(last);
            }
            if matches!(node, Node::And(_)) {
                Node::And(children)
            } else {
                Node::Or(children)
            }
        }
        other => other.clone(),
    }
}

fn collect_positive(node: &Node, terms: &mut BTreeSet<String>) {
    match node {
        Node::Lexeme(lexeme) => {
            terms.insert(lexeme.clone());
        }
        Node::Phrase(items) => terms.extend(items.iter().map(|(lexeme, _)| lexeme.clone())),
        Node::And(children) | Node::Or(children) => children
            .iter()
            .for_each(|child| collect_positive(child, terms)),
        Node::Not(_) => {}
    }
}

/// A tsquery that matches one lexeme exactly, as `to_tsquery_text` would write it.
pub fn lexeme_tsquery_text(lexeme: &str) -> String {
    quote(lexeme)
}

fn quote(lexeme: &str) -> String {
    let (text, prefix) = match lexeme.strip_suffix(PREFIX_MARK) {
        Some(text) => (text, true),
        None => (lexeme, false),
    };
    let mut quoted = String::with_capacity(text.len() + 4);
    quoted.push('\'');
    for c in text.chars() {
        match c {
            '\'' => quoted.push_str("''"),
            '\\' => quoted.push_str("\\\\"),
            _ => quoted.push(c),
        }
    }
    quoted.push('\'');
    if prefix {
        quoted.push_str(":*");
    }
    quoted
}

fn render(node: &Node) -> String {
    match node {
        Node::Lexeme(lexeme) => quote(lexeme),
        Node::Phrase(items) => {
            let mut text = String::new();
            for (index, (lexeme, distance)) in items.iter().enumerate() {
                if index > 0 {
                    if *distance == 1 {
                        text.push_str(" <-> ");
                    } else {
                        text.push_str(&format!(" <{distance}> "));
                    }
                }
                text.push_str(&quote(lexeme));
            }
            format!("({text})")
        }
        Node::And(children) => join(children, " & "),
        Node::Or(children) => join(children, " | "),
        Node::Not(child) => format!("!{}", render(child)),
    }
}

fn join(children: &[Node], operator: &str) -> String {
    let parts: Vec<String> = children.iter().map(render).collect();
    format!("({})", parts.join(operator))
}

/// Parses web-search syntax. Never fails; see the module documentation.
pub fn parse_query(input: &str) -> Query {
    let mut end = input.len().min(MAX_QUERY_BYTES);
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    let items = lex(&input[..end]);
    let mut parser = Parser {
        items,
        at: 0,
        nodes: 0,
    };
    let root = parser.expression(0).and_then(simplify);
    Query {
        root: root.filter(has_positive),
    }
}

/// The query's surface syntax, before tokenizing words.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Word { text: String, negated: bool },
    Phrase { text: String, negated: bool },
    Or,
    Open { negated: bool },
    Close,
}

fn lex(input: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let negated = c == '-' && {
            let mut ahead = input[start + 1..].chars();
            ahead
                .next()
                .is_some_and(|next| !next.is_whitespace() && next != '-')
        };
        if negated {
            chars.next();
        }
        match chars.peek().map(|&(at, c)| (at, c)) {
            Some((at, '"')) => {
                chars.next();
                let body_start = at + 1;
                let mut body_end = input.len();
                for (offset, c) in chars.by_ref() {
                    if c == '"' {
                        body_end = offset;
                        break;
                    }
                }
                items.push(Item::Phrase {
                    text: input[body_start..body_end].to_owned(),
                    negated,
                });
            }
            Some((_, '(')) => {
                chars.next();
                items.push(Item::Open { negated });
            }
            Some((_, ')')) if !negated => {
                chars.next();
                items.push(Item::Close);
            }
            Some((_, '|')) if !negated => {
                chars.next();
                items.push(Item::Or);
            }
            Some((at, _)) => {
                let mut word_end = input.len();
                while let Some(&(offset, c)) = chars.peek() {
                    if c.is_whitespace() || c == '"' {
                        word_end = offset;
                        break;
                    }
                    chars.next();
                }
                // Parentheses inside a word belong to it (`foo(bar)`); closing ones left over at
                // its end close a group.
                let mut text = &input[at..word_end];
                let mut closes = 0;
                while text.ends_with(')') && text.matches(')').count() > text.matches('(').count() {
                    text = &text[..text.len() - 1];
                    closes += 1;
                }
                if text.is_empty() {
                } else if !negated && text.eq_ignore_ascii_case("or") {
                    items.push(Item::Or);
                } else {
                    items.push(Item::Word {
                        text: text.to_owned(),
                        negated,
                    });
                }
                items.extend(std::iter::repeat_n(Item::Close, closes));
            }
            None => {}
        }
    }
    items
}

struct Parser {
    items: Vec<Item>,
    at: usize,
    nodes: usize,
}

impl Parser {
    /// expression := clause (clause)*     clauses are AND-ed
    /// clause     := unit ("or" unit)*
    fn expression(&mut self, depth: usize) -> Option<Node> {
        let mut clauses = Vec::new();
        while self.at < self.items.len() {
            if self.items[self.at] == Item::Close {
                if depth > 0 {
                    break;
                }
                self.at += 1; // an unmatched ")" means nothing
                continue;
            }
            if let Some(clause) = self.clause(depth) {
                clauses.push(clause);
            }
        }
        combine(clauses, Node::And)
    }

    fn clause(&mut self, depth: usize) -> Option<Node> {
        let mut alternatives = Vec::new();
        alternatives.extend(self.unit(depth));
        while self.items.get(self.at) == Some(&Item::Or) {
            self.at += 1;
            if let Some(unit) = self.unit(depth) {
                alternatives.push(unit);
            }
        }
        combine(alternatives, Node::Or)
    }

    fn unit(&mut self, depth: usize) -> Option<Node> {
        let item = self.items.get(self.at)?.clone();
        self.at += 1;
        let is_leaf = matches!(item, Item::Word { .. } | Item::Phrase { .. });
        if is_leaf {
            if self.nodes >= MAX_NODES {
                return None;
            }
            self.nodes += 1;
        }
        match item {
            Item::Word { text, negated } => negate(word_node(&text), negated),
            Item::Phrase { text, negated } => negate(phrase_node(&tokenize(&text)), negated),
            Item::Open { negated } if depth < MAX_DEPTH => {
                let inner = self.expression(depth + 1);
                if self.items.get(self.at) == Some(&Item::Close) {
                    self.at += 1;
                }
                negate(inner, negated)
            }
            Item::Open { .. } | Item::Close | Item::Or => None,
        }
    }
}

fn negate(node: Option<Node>, negated: bool) -> Option<Node> {
    node.map(|node| {
        if negated {
            Node::Not(Box::new(node))
        } else {
            node
        }
    })
}

fn combine(mut nodes: Vec<Node>, make: fn(Vec<Node>) -> Node) -> Option<Node> {
    match nodes.len() {
        0 => None,
        1 => nodes.pop(),
        _ => Some(make(nodes)),
    }
}

/// A single word of the query: one plain word is a lexeme; anything with parts (an identifier,
/// a path, `foo(bar)`, `handler.rs:42`) is the phrase of its parts, which finds it written in
/// any case style (`getUserData`, `get_user_data`, "get user data").
fn word_node(text: &str) -> Option<Node> {
    phrase_node(&tokenize(text))
}

/// The words and parts of tokens as a phrase, with the distances their positions give.
fn phrase_node(tokens: &[Token]) -> Option<Node> {
    let leaves: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.is_indexed() && t.kind != TokenKind::Compound)
        .take(MAX_PHRASE_TERMS)
        .collect();
    let first = leaves.first()?;
    if leaves.len() == 1 {
        return Some(Node::Lexeme(first.term.clone()));
    }
    let mut previous = first.position;
    let items = leaves
        .iter()
        .map(|leaf| {
            let distance = (leaf.position - previous).min(16384) as u16;
            previous = leaf.position;
            (leaf.term.clone(), distance)
        })
        .collect();
    Some(Node::Phrase(items))
}

/// Flattens nested ANDs and ORs and removes repeated alternatives.
fn simplify(node: Node) -> Option<Node> {
    match node {
        Node::And(children) | Node::Or(children) if children.is_empty() => None,
        Node::And(children) => combine(distinct(flatten(children, true)), Node::And),
        Node::Or(children) => combine(distinct(flatten(children, false)), Node::Or),
        Node::Not(child) => simplify(*child).map(|child| Node::Not(Box::new(child))),
        leaf => Some(leaf),
    }
}

/// Drops repeated branches (`a a`, `a or a`), keeping the first of each.
fn distinct(nodes: Vec<Node>) -> Vec<Node> {
    let mut kept: Vec<Node> = Vec::with_capacity(nodes.len());
    for node in nodes {
        if !kept.contains(&node) {
            kept.push(node);
        }
    }
    kept
}

fn flatten(children: Vec<Node>, and: bool) -> Vec<Node> {
    let mut flat = Vec::new();
    for child in children.into_iter().filter_map(simplify) {
        match child {
            Node::And(grand) if and => flat.extend(grand),
            Node::Or(grand) if !and => flat.extend(grand),
            other => flat.push(other),
        }
    }
    flat
}

/// A query needs something to look for: a branch made only of exclusions cannot use the index.
fn has_positive(node: &Node) -> bool {
    match node {
        Node::Lexeme(_) | Node::Phrase(_) => true,
        Node::And(children) => children.iter().any(has_positive),
        Node::Or(children) => children.iter().all(has_positive),
        Node::Not(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsquery(input: &str) -> String {
        parse_query(input).to_tsquery_text()
    }

    #[test]
    fn words_are_anded_and_stemmed() {
        assert_eq!(tsquery("handler timeouts"), "('handler' & 'timeout')");
        assert_eq!(tsquery("the running"), "'run'");
    }

    #[test]
    fn identifiers_match_as_the_phrase_of_their_parts() {
        assert_eq!(tsquery("getUserData"), "('get' <-> 'user' <-> 'data')");
        assert_eq!(tsquery("get_user_data"), tsquery("getUserData"));
        assert_eq!(tsquery("my_variable"), "('my' <-> 'variabl')");
        assert_eq!(
            tsquery("src/api/handler.rs"),
            "('src' <-> 'api' <-> 'handler' <-> 'rs')"
        );
        assert_eq!(tsquery("E0382"), "'e0382'");
    }

    #[test]
    fn punctuation_around_words_becomes_a_phrase() {
        assert_eq!(tsquery("foo(bar)"), "('foo' <-> 'bar')");
        assert_eq!(tsquery("handler.rs:42"), "('handler' <-> 'rs' <-> '42')");
    }

    #[test]
    fn phrases_keep_distances_across_stop_words() {
        assert_eq!(tsquery("\"connection refused\""), "('connect' <-> 'refus')");
        assert_eq!(tsquery("\"out of memory\""), "'memori'");
        assert_eq!(tsquery("\"failed to connect\""), "('fail' <2> 'connect')");
        assert_eq!(
            tsquery("\"call getUserData later\""),
            "('call' <-> 'get' <-> 'user' <-> 'data' <-> 'later')"
        );
    }

    #[test]
    fn or_exclusion_and_grouping() {
        assert_eq!(tsquery("E0382 or E0499"), "('e0382' | 'e0499')");
        assert_eq!(
            tsquery("E0382 | E0499 borrow"),
            "(('e0382' | 'e0499') & 'borrow')"
        );
        assert_eq!(tsquery("deploy -staging"), "('deploy' & !'stage')");
        assert_eq!(
            tsquery("deploy -\"dry run\""),
            "('deploy' & !('dri' <-> 'run'))"
        );
        assert_eq!(
            tsquery("(retry or backoff) redis"),
            "(('retri' | 'backoff') & 'redi')"
        );
    }

    #[test]
    fn nothing_searchable_gives_an_empty_query() {
        for input in [
            "", "   ", "the of", "-foo", "\"\"", "()", "|||", "or", "-(a b)", "\u{0}", "(((((",
        ] {
            assert!(parse_query(input).is_empty(), "{input:?}");
        }
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(tsquery("o'brien's"), "'o''brien'");
        let prefix = parse_query("cargo te").to_prefix_tsquery_text();
        assert_eq!(prefix, "('cargo' & 'te':*)");
    }

    #[test]
    fn positive_terms_skip_exclusions() {
        let query = parse_query("getUserData -legacy \"cache miss\"");
        assert_eq!(
            query.positive_terms(),
            ["cach", "data", "get", "miss", "user"]
        );
    }

    #[test]
    fn pathological_input_is_bounded() {
        let deep = "(".repeat(1_000) + "x" + &")".repeat(1_000);
        assert_eq!(parse_query(&deep).to_tsquery_text(), "'x'");
        let beyond_the_limit = "(".repeat(10_000) + "x";
        assert!(parse_query(&beyond_the_limit).is_empty());
        let wide = "term ".repeat(10_000);
        let query = parse_query(&wide);
        assert!(query.to_tsquery_text().len() < 2_000);
    }

    #[test]
    fn a_word_of_thousands_of_parts_keeps_a_bounded_phrase() {
        let query = parse_query(&"aB".repeat(2_000));
        let terms: usize = match query.root() {
            Some(Node::Phrase(items)) => items.len(),
            Some(Node::Or(children)) => children
                .iter()
                .map(|child| {
                    if let Node::Phrase(items) = child {
                        items.len()
                    } else {
                        1
                    }
                })
                .sum(),
            other => panic!("unexpected {other:?}"),
        };
        assert!(terms <= MAX_PHRASE_TERMS + 1, "{terms}");
    }
}
