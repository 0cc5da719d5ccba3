//! Realistic text of coding conversations: prose with a long-tailed vocabulary, identifiers in
//! every case style, file paths from a project's own tree, error codes, stack traces, shell
//! commands, test output and JSON.

use crate::rng::{Rng, Zipf};

/// Function words and the vocabulary developers use most; the rest of the lexicon is generated.
const COMMON: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "it",
    "that",
    "for",
    "this",
    "with",
    "on",
    "not",
    "be",
    "we",
    "i",
    "you",
    "can",
    "if",
    "now",
    "when",
    "so",
    "but",
    "from",
    "at",
    "by",
    "should",
    "will",
    "then",
    "let",
    "me",
    "check",
    "test",
    "error",
    "function",
    "file",
    "handler",
    "request",
    "response",
    "config",
    "user",
    "data",
    "cache",
    "value",
    "type",
    "return",
    "build",
    "run",
    "fix",
    "update",
    "change",
    "add",
    "remove",
    "call",
    "query",
    "index",
    "table",
    "server",
    "client",
    "token",
    "session",
    "timeout",
    "retry",
    "connection",
    "module",
    "import",
    "export",
    "class",
    "method",
    "field",
    "string",
    "number",
    "array",
    "list",
    "map",
    "null",
    "undefined",
    "async",
    "await",
    "promise",
    "thread",
    "lock",
    "memory",
    "leak",
    "crash",
    "log",
    "debug",
    "trace",
    "deploy",
    "release",
    "branch",
    "commit",
    "merge",
    "review",
    "failing",
    "passes",
    "tests",
    "errors",
    "works",
    "broken",
    "missing",
    "expected",
    "actual",
    "because",
    "instead",
    "still",
    "again",
    "first",
    "next",
    "last",
    "new",
    "old",
    "same",
    "different",
    "look",
    "see",
    "need",
    "try",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pa", "se", "do", "fu", "gi", "ha", "ju", "ke",
    "li", "mo", "nu", "po", "qua", "re", "si", "to", "ul", "ve", "wa", "xe", "yo", "zu", "bar",
    "cor", "den", "fen", "gor", "hal", "kin", "lem", "mar", "nor", "pel", "quin", "ros", "tal",
    "ver", "wen",
];

const SUFFIXES: &[&str] = &["", "", "", "s", "ing", "ed", "er", "ion"];
const EXTENSIONS: &[&str] = &[
    "rs", "ts", "py", "go", "js", "tsx", "java", "rb", "sql", "toml", "yaml", "md",
];
const TOP_DIRS: &[&str] = &[
    "src", "lib", "app", "tests", "services", "packages", "internal", "cmd", "web",
];
const ERROR_PREFIXES: &[&str] = &["E0", "TS", "ERR_", "PGSQL", "E1", "W0"];
const ERRNOS: &[&str] = &[
    "ENOENT",
    "EACCES",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "EADDRINUSE",
    "EPIPE",
];

/// The words of one corpus and how often each is used.
pub struct Lexicon {
    words: Vec<String>,
    zipf: Zipf,
}

impl Lexicon {
    /// `size` distinct words: the common vocabulary first, then generated ones.
    pub fn new(size: usize, rng: &mut Rng) -> Lexicon {
        let mut words: Vec<String> = COMMON.iter().map(|w| (*w).to_owned()).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        while words.len() < size {
            let syllables = 2 + rng.below(3);
            let word: String = (0..syllables).map(|_| *rng.pick(SYLLABLES)).collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        Lexicon {
            zipf: Zipf::new(words.len(), 1.07),
            words,
        }
    }

    pub fn word(&self, rng: &mut Rng) -> &str {
        &self.words[self.zipf.sample(rng)]
    }

    /// A content word (skipping the function words at the top of the ranking).
    pub fn content_word(&self, rng: &mut Rng) -> &str {
        loop {
            let word = self.word(rng);
            if word.len() > 3 {
                return word;
            }
        }
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Writes the text of one project's conversations.
pub struct Writer<'a> {
    lexicon: &'a Lexicon,
    /// The project's files, so paths recur within a project as they do in real work.
    files: Vec<String>,
}

impl<'a> Writer<'a> {
    pub fn new(lexicon: &'a Lexicon, rng: &mut Rng, file_count: usize) -> Writer<'a> {
        let files = (0..file_count)
            .map(|_| {
                let depth = 1 + rng.below(3);
                let mut path = (*rng.pick(TOP_DIRS)).to_owned();
                for _ in 0..depth {
                    path.push('/');
                    path.push_str(lexicon.content_word(rng));
                }
                let stem = match rng.below(3) {
                    0 => lexicon.content_word(rng).to_owned(),
                    1 => format!(
                        "{}_{}",
                        lexicon.content_word(rng),
                        lexicon.content_word(rng)
                    ),
                    _ => format!(
                        "{}{}",
                        lexicon.content_word(rng),
                        capitalize(lexicon.content_word(rng))
                    ),
                };
                format!("{path}/{stem}.{}", rng.pick(EXTENSIONS))
            })
            .collect();
        Writer { lexicon, files }
    }

    pub fn path(&self, rng: &mut Rng) -> &str {
        // a project's files are not used equally either
        let index = (rng.unit().powi(2) * self.files.len() as f64) as usize;
        &self.files[index.min(self.files.len() - 1)]
    }

    pub fn identifier(&self, rng: &mut Rng) -> String {
        let parts: Vec<&str> = (0..2 + rng.below(2))
            .map(|_| self.lexicon.content_word(rng))
            .collect();
        match rng.below(5) {
            0 | 1 => {
                parts[0].to_owned() + &parts[1..].iter().map(|p| capitalize(p)).collect::<String>()
            }
            2 => parts.join("_"),
            3 => parts.iter().map(|p| capitalize(p)).collect(),
            _ => parts.join("_").to_uppercase(),
        }
    }

    pub fn error_code(&self, rng: &mut Rng) -> String {
        if rng.chance(0.2) {
            return (*rng.pick(ERRNOS)).to_owned();
        }
        format!("{}{:03}", rng.pick(ERROR_PREFIXES), rng.below(1000))
    }

    fn sentence(&self, rng: &mut Rng) -> String {
        let length = 6 + rng.below(14);
        let mut words: Vec<String> = Vec::with_capacity(length);
        for position in 0..length {
            let word = match rng.below(14) {
                0 => format!("`{}`", self.identifier(rng)),
                1 if position > 2 => self.path(rng).to_owned(),
                _ => format!(
                    "{}{}",
                    self.lexicon.word(rng),
                    if rng.chance(0.15) {
                        *rng.pick(SUFFIXES)
                    } else {
                        ""
                    }
                ),
            };
            words.push(word);
        }
        let mut sentence = capitalize(&words.join(" "));
        sentence.push(*rng.pick(&['.', '.', '.', '?', ':']));
        sentence
    }

    pub fn prose(&self, rng: &mut Rng, sentences: usize) -> String {
        (0..sentences.max(1))
            .map(|_| self.sentence(rng))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn stack_trace(&self, rng: &mut Rng) -> String {
        let code = self.error_code(rng);
        let mut lines = vec![format!(
            "error[{code}]: {}",
            self.sentence(rng).to_lowercase()
        )];
        for _ in 0..2 + rng.below(6) {
            lines.push(format!(
                "    at {} ({}:{}:{})",
                self.identifier(rng),
                self.path(rng),
                1 + rng.below(900),
                1 + rng.below(80)
            ));
        }
        lines.join("\n")
    }

    fn test_output(&self, rng: &mut Rng) -> String {
        let total = 1 + rng.below(60);
        let failed = if rng.chance(0.3) {
            1 + rng.below(3.min(total))
        } else {
            0
        };
        let mut lines: Vec<String> = (0..total.min(12))
            .map(|i| {
                format!(
                    "test {}::{} ... {}",
                    self.lexicon.content_word(rng),
                    self.identifier(rng),
                    if i < failed { "FAILED" } else { "ok" }
                )
            })
            .collect();
        lines.push(format!(
            "test result: {}. {} passed; {failed} failed",
            if failed > 0 { "FAILED" } else { "ok" },
            total - failed
        ));
        lines.join("\n")
    }

    fn code_block(&self, rng: &mut Rng) -> String {
        let function = self.identifier(rng);
        let mut lines = vec![format!(
            "fn {function}({}: &{}) -> Result<{}, Error> {{",
            self.lexicon.content_word(rng),
            capitalize(self.lexicon.content_word(rng)),
            capitalize(self.lexicon.content_word(rng))
        )];
        for _ in 0..2 + rng.below(10) {
            lines.push(format!(
                "    let {} = {}.{}()?;",
                self.lexicon.content_word(rng),
                self.lexicon.content_word(rng),
                self.identifier(rng)
            ));
        }
        lines.push("}".into());
        lines.join("\n")
    }

    pub fn command(&self, rng: &mut Rng) -> String {
        match rng.below(6) {
            0 => format!("cargo test {}", self.identifier(rng)),
            1 => format!("npm run {}", self.lexicon.content_word(rng)),
            2 => format!(
                "pytest {} -k {}",
                self.path(rng),
                self.lexicon.content_word(rng)
            ),
            3 => format!("git commit -m \"{}\"", self.sentence(rng).to_lowercase()),
            4 => format!("rg -n \"{}\" {}", self.identifier(rng), self.path(rng)),
            _ => format!(
                "curl -s https://api.{}.dev/v{}/{}",
                self.lexicon.content_word(rng),
                1 + rng.below(3),
                self.lexicon.content_word(rng)
            ),
        }
    }

    /// A tool's output: source, test results, a stack trace or JSON, with a heavy tail of length.
    pub fn tool_output(&self, rng: &mut Rng, failed: bool) -> String {
        let target = rng.log_normal(600.0, 1.2).min(60_000.0) as usize;
        let mut output = String::new();
        if failed {
            output.push_str(&self.stack_trace(rng));
        }
        while output.len() < target {
            let piece = match rng.below(4) {
                0 => self.code_block(rng),
                1 => self.test_output(rng),
                2 => format!(
                    "{{\"{}\": {}, \"{}\": \"{}\"}}",
                    self.lexicon.content_word(rng),
                    rng.below(10_000),
                    self.identifier(rng),
                    self.path(rng)
                ),
                _ => self.prose(rng, 2),
            };
            output.push_str(&piece);
            output.push('\n');
        }
        output
    }

    /// What a user writes: a request, sometimes with a path, an identifier or an error.
    pub fn user_prompt(&self, rng: &mut Rng) -> String {
        let sentences = 1 + rng.below(3);
        let mut prompt = self.prose(rng, sentences);
        if rng.chance(0.3) {
            prompt.push_str(&format!(" The error is {}.", self.error_code(rng)));
        }
        prompt
    }

    /// What the assistant answers: explanation, with code now and then.
    pub fn assistant_text(&self, rng: &mut Rng) -> String {
        let sentences = 1 + rng.below(5);
        let mut text = self.prose(rng, sentences);
        if rng.chance(0.15) {
            text.push_str("\n\n");
            text.push_str(&self.code_block(rng));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_a_long_tail_and_technical_shapes() {
        let mut rng = Rng::new(11);
        let lexicon = Lexicon::new(30_000, &mut rng);
        let writer = Writer::new(&lexicon, &mut rng, 200);
        let text: String = (0..400)
            .map(|_| writer.assistant_text(&mut rng) + " " + &writer.tool_output(&mut rng, true))
            .collect();
        let distinct: std::collections::HashSet<&str> = text.split_whitespace().collect();
        assert!(distinct.len() > 5_000, "{}", distinct.len());
        assert!(text.contains('/') && text.contains("error[") && text.contains("test result"));
        assert!(!text.contains('\0'));
    }

    #[test]
    fn identifiers_come_in_every_case_style() {
        let mut rng = Rng::new(5);
        let lexicon = Lexicon::new(2_000, &mut rng);
        let writer = Writer::new(&lexicon, &mut rng, 10);
        let ids: Vec<String> = (0..200).map(|_| writer.identifier(&mut rng)).collect();
        assert!(ids
            .iter()
            .any(|i| i.contains('_') && i.chars().any(char::is_lowercase)));
        assert!(ids
            .iter()
            .any(|i| i.chars().any(char::is_uppercase) && !i.contains('_')));
        assert!(ids
            .iter()
            .any(|i| i.chars().all(|c| c.is_uppercase() || c == '_')));
    }
}
