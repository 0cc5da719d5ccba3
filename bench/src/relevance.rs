//! Relevance: does search find what a developer means? A judged query set over a generated corpus,
//! cco's search against native english full-text search (ts_rank_cd) on the same rows.
//!
//! The queries are the ones developers type about code: an identifier as written, the words of an
//! identifier (`user data` for `getUserData`), a file path, a file's name without its folder, an
//! error code, and plain English. They are picked from the corpus itself (deterministically), and
//! every message is judged by an oracle that is independent of both engines:
//!
//! - grade 2 (relevant): the message names the thing asked for: the exact token for exact
//!   queries; for word queries, the words written together in any case style or separator
//!   (`getUserData`, `user_data`, `user-data`, `user data` all name "user data");
//! - grade 1 (partly relevant): every query word appears somewhere in the message;
//! - grade 0 otherwise.
//!
//! Reported per kind of query: recall@50 of the relevant messages, nDCG@10 with those grades, and
//! for exact queries whether candidate retrieval finds every message containing the token.

use std::collections::{HashMap, HashSet};

use crate::corpus::{self, Corpus};
use crate::load;
use crate::rng::Rng;
use crate::scenarios::{db, Bench};

/// How a query is judged.
#[derive(Clone, Debug)]
enum Oracle {
    /// The token itself, case-insensitively, not inside a longer word.
    Exact(String),
    /// Words that name one thing when written together, in any case style or with any separator.
    Joined(Vec<String>),
}

#[derive(Clone, Debug)]
struct Judged {
    kind: &'static str,
    query: String,
    oracle: Oracle,
}

/// Lowercase letters and digits only: `getUserData()` and `user data` both become `...userdata...`.
fn squeezed(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn contains_token(haystack_lower: &str, token_lower: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = haystack_lower[from..].find(token_lower) {
        let start = from + found;
        let end = start + token_lower.len();
        let before = haystack_lower[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word(c));
        let after = haystack_lower[end..]
            .chars()
            .next()
            .is_none_or(|c| !is_word(c));
        if before && after {
            return true;
        }
        from = start
            + haystack_lower[start..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
    }
    false
}

impl Oracle {
    fn grade(&self, lower: &str, squeezed_text: &str) -> u8 {
        match self {
            Oracle::Exact(token) => u8::from(contains_token(lower, token)) * 2,
            Oracle::Joined(words) => {
                if squeezed_text.contains(&words.concat()) {
                    2
                } else if words.iter().all(|w| squeezed_text.contains(w.as_str())) {
                    1
                } else {
                    0
                }
            }
        }
    }
}

/// Splits an identifier into its lowercase words: camelCase, PascalCase, snake_case, SCREAMING_CASE.
fn identifier_words(identifier: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in identifier.chars() {
        if c == '_' || c == '-' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn trimmed(word: &str) -> &str {
    word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '/' || c == '.'))
        .trim_end_matches('.')
}

/// The judged queries, picked from the corpus: the same corpus always gives the same set.
fn judged_queries(corpus: &Corpus) -> Vec<Judged> {
    let mut rng = Rng::new(77);
    let mut wanted: Vec<(&'static str, usize)> = vec![
        ("identifier as written", 8),
        ("identifier words", 8),
        ("snake_case as written", 6),
        ("file path", 6),
        ("file name", 6),
        ("error code", 6),
        ("english words", 6),
    ];
    let mut picked: Vec<Judged> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut attempts = 0;
    while wanted.iter().any(|(_, n)| *n > 0) && attempts < 2_000_000 {
        attempts += 1;
        let message = &corpus.messages[rng.below(corpus.messages.len())];
        // Brackets split too, so `error[E0382]:` offers its code.
        let words: Vec<&str> = message
            .content
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            continue;
        }
        let at = rng.below(words.len());
        let word = trimmed(words[at]);
        let candidate = classify(word, words.get(at + 1).map_or("", |next| trimmed(next)));
        let Some(judged) = candidate else { continue };
        let Some(slot) = wanted
            .iter_mut()
            .find(|(kind, n)| *kind == judged.kind && *n > 0)
        else {
            continue;
        };
        if seen.insert(judged.query.to_lowercase()) {
            slot.1 -= 1;
            picked.push(judged);
        }
    }
    picked
}

fn classify(word: &str, next: &str) -> Option<Judged> {
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
    let lower_start = word.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if word.contains('/') && word.contains('.') && !word.contains("//") {
        let name = word.rsplit('/').next()?;
        let stem = name.split('.').next()?;
        if stem.len() < 4 || !stem.chars().all(|c| c.is_ascii_lowercase()) {
            return None;
        }
        // Alternate between the path as written and the file's name alone.
        return Some(if word.len().is_multiple_of(2) {
            Judged {
                kind: "file path",
                query: word.to_owned(),
                oracle: Oracle::Exact(word.to_lowercase()),
            }
        } else {
            Judged {
                kind: "file name",
                query: stem.to_owned(),
                oracle: Oracle::Joined(vec![stem.to_owned()]),
            }
        });
    }
    if word.len() >= 4 && word.len() <= 10 && is_error_code(word) {
        return Some(Judged {
            kind: "error code",
            query: word.to_owned(),
            oracle: Oracle::Exact(word.to_lowercase()),
        });
    }
    if alnum(word) && lower_start && word.len() > 8 && word.chars().any(|c| c.is_ascii_uppercase())
    {
        let parts = identifier_words(word);
        if parts.len() < 2 {
            return None;
        }
        return Some(if word.len().is_multiple_of(2) {
            Judged {
                kind: "identifier as written",
                query: word.to_owned(),
                oracle: Oracle::Exact(word.to_lowercase()),
            }
        } else {
            Judged {
                kind: "identifier words",
                query: parts.join(" "),
                oracle: Oracle::Joined(parts),
            }
        });
    }
    if word.contains('_')
        && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        && word.len() > 8
    {
        return Some(Judged {
            kind: "snake_case as written",
            query: word.to_owned(),
            oracle: Oracle::Exact(word.to_owned()),
        });
    }
    let plain = |s: &str| s.len() >= 5 && s.chars().all(|c| c.is_ascii_lowercase());
    if plain(word) && plain(next) {
        return Some(Judged {
            kind: "english words",
            query: format!("{word} {next}"),
            oracle: Oracle::Joined(vec![word.to_owned(), next.to_owned()]),
        });
    }
    None
}

fn is_error_code(word: &str) -> bool {
    let letters = word
        .chars()
        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
        .count();
    let digits = word.len() - letters;
    (letters >= 1 && digits == 3 && word[letters..].chars().all(|c| c.is_ascii_digit()))
        || (letters == word.len()
            && word.starts_with('E')
            && word.len() >= 5
            && !word.contains('_'))
}

/// nDCG@k of a ranking, given every message's grade (ungraded messages are 0).
fn ndcg(ranking: &[usize], grades: &HashMap<usize, u8>, k: usize) -> f64 {
    let gain = |grade: u8| f64::from((1u32 << grade) - 1);
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, id)| gain(*grades.get(id).unwrap_or(&0)) * discount(r))
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let best: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, g)| gain(*g) * discount(r))
        .sum();
    if best == 0.0 {
        1.0
    } else {
        dcg / best
    }
}

/// recall@k of the relevant (grade 2) messages, out of as many as fit in k.
fn recall(ranking: &[usize], grades: &HashMap<usize, u8>, k: usize) -> f64 {
    let relevant = grades.values().filter(|g| **g == 2).count();
    if relevant == 0 {
        return 1.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|id| grades.get(id) == Some(&2))
        .count();
    found as f64 / relevant.min(k) as f64
}

#[derive(Default)]
struct Tally {
    queries: usize,
    recall: [f64; 2],
    ndcg: [f64; 2],
    exact_total: usize,
    exact_found: [usize; 2],
}

const CCO_TOP: &str = "select id from cco.search_messages($1, limit_count => 50)";
const NATIVE_TOP: &str =
    "select id from native_fts.messages, websearch_to_tsquery('english', $1) q \
     where search_vector @@ q order by ts_rank_cd(search_vector, q) desc, id limit 50";
const CCO_ALL: &str =
    "select id from cco.messages where search_vector operator(cco.@@) cco.to_tsquery($1)";
const NATIVE_ALL: &str =
    "select id from native_fts.messages where search_vector @@ websearch_to_tsquery('english', $1)";

/// Runs the evaluation over a corpus of `messages` messages and prints (and with `doc`, writes) the report.
pub fn run(connection: &str, messages: usize, doc: Option<&std::path::Path>) -> Result<(), String> {
    eprintln!("generating {messages} messages");
    let corpus = corpus::generate(messages, 5);
    let queries = judged_queries(&corpus);
    if queries.len() < 40 {
        return Err(format!(
            "only {} judged queries could be picked from the corpus; use more messages",
            queries.len()
        ));
    }
    let mut bench = Bench::new(connection, "cco_relevance", &corpus, false)?;
    eprintln!("loading cco and native english FTS");
    load::load_containers(&mut bench.admin, "cco", &corpus)?;
    load::load_messages(
        &mut bench.admin,
        "cco.messages",
        &corpus,
        corpus.messages.len(),
    )?;
    load::load_messages(
        &mut bench.admin,
        "native_fts.messages",
        &corpus,
        corpus.messages.len(),
    )?;
    bench.admin.batch_execute("vacuum analyze").map_err(db)?;

    let index: HashMap<uuid::Uuid, usize> = corpus
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            (
                uuid::Uuid::parse_str(&m.id).expect("generated ids are uuids"),
                i,
            )
        })
        .collect();
    let texts: Vec<(String, String)> = corpus
        .messages
        .iter()
        .map(|m| (m.content.to_lowercase(), squeezed(&m.content)))
        .collect();
    let mut ids = |sql: &str, query: &str| -> Result<Vec<usize>, String> {
        let rows = bench
            .admin
            .query(sql, &[&query])
            .map_err(|e| format!("{query}: {}", db(e)))?;
        Ok(rows
            .iter()
            .filter_map(|r| index.get(&r.get::<_, uuid::Uuid>(0)).copied())
            .collect())
    };

    let mut tallies: Vec<(&'static str, Tally)> = Vec::new();
    let mut lines = Vec::new();
    for judged in &queries {
        let grades: HashMap<usize, u8> = texts
            .iter()
            .enumerate()
            .filter_map(|(i, (lower, squeezed_text))| {
                Some((i, judged.oracle.grade(lower, squeezed_text))).filter(|(_, g)| *g > 0)
            })
            .collect();
        let rankings = [
            ids(CCO_TOP, &judged.query)?,
            ids(NATIVE_TOP, &judged.query)?,
        ];
        if !tallies.iter().any(|(k, _)| *k == judged.kind) {
            tallies.push((judged.kind, Tally::default()));
        }
        let tally = &mut tallies
            .iter_mut()
            .find(|(k, _)| *k == judged.kind)
            .expect("just added")
            .1;
        tally.queries += 1;
        for (engine, ranking) in rankings.iter().enumerate().take(2) {
            tally.recall[engine] += recall(ranking, &grades, 50);
            tally.ndcg[engine] += ndcg(ranking, &grades, 10);
        }
        let relevant: HashSet<usize> = grades
            .iter()
            .filter(|(_, g)| **g == 2)
            .map(|(i, _)| *i)
            .collect();
        if let Oracle::Exact(_) = judged.oracle {
            let found = [
                ids(CCO_ALL, &judged.query)?,
                ids(NATIVE_ALL, &judged.query)?,
            ]
            .map(|all| all.iter().filter(|i| relevant.contains(i)).count());
            tally.exact_total += relevant.len();
            tally.exact_found[0] += found[0];
            tally.exact_found[1] += found[1];
        }
        lines.push(format!(
            "| {} | `{}` | {} | {:.2} / {:.2} | {:.2} / {:.2} |",
            judged.kind,
            judged.query.replace('|', "\\|"),
            relevant.len(),
            recall(&rankings[0], &grades, 50),
            recall(&rankings[1], &grades, 50),
            ndcg(&rankings[0], &grades, 10),
            ndcg(&rankings[1], &grades, 10),
        ));
    }
    bench.drop_database()?;

    let mut summary = String::from(
        "| kind of query | queries | recall@50 cco | recall@50 native | nDCG@10 cco | nDCG@10 native | exact matches retrieved cco | native |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let mut overall = Tally::default();
    for (kind, tally) in &tallies {
        let n = tally.queries as f64;
        let exact = |found: usize| {
            if tally.exact_total == 0 {
                "n/a".to_owned()
            } else {
                format!(
                    "{found} of {} ({:.0}%)",
                    tally.exact_total,
                    100.0 * found as f64 / tally.exact_total as f64
                )
            }
        };
        summary.push_str(&format!(
            "| {kind} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            tally.queries,
            tally.recall[0] / n,
            tally.recall[1] / n,
            tally.ndcg[0] / n,
            tally.ndcg[1] / n,
            exact(tally.exact_found[0]),
            exact(tally.exact_found[1]),
        ));
        overall.queries += tally.queries;
        for engine in 0..2 {
            overall.recall[engine] += tally.recall[engine];
            overall.ndcg[engine] += tally.ndcg[engine];
            overall.exact_found[engine] += tally.exact_found[engine];
        }
        overall.exact_total += tally.exact_total;
    }
    let n = overall.queries as f64;
    summary.push_str(&format!(
        "| **all** | {} | **{:.2}** | {:.2} | **{:.2}** | {:.2} | {} of {} | {} of {} |\n",
        overall.queries,
        overall.recall[0] / n,
        overall.recall[1] / n,
        overall.ndcg[0] / n,
        overall.ndcg[1] / n,
        overall.exact_found[0],
        overall.exact_total,
        overall.exact_found[1],
        overall.exact_total,
    ));
    println!("{summary}");
    let command = crate::report::command_line();
    if let Some(doc) = doc {
        let page = format!(
            "# Search relevance\n\nGenerated by `{command}` over {} generated messages.\n\n\
             Every message is judged against every query by an oracle that knows neither engine: grade 2 when the \
             message names what was asked (the exact token for identifiers, paths and error codes; the words written \
             together in any case style or with any separator for word queries, so `getUserData`, `user_data` and \
             `user data` all name \"user data\"), grade 1 when every query word appears somewhere, else 0. cco is \
             `cco.search_messages`; native is `websearch_to_tsquery('english')` over an english tsvector, ranked by \
             `ts_rank_cd`. \"exact matches retrieved\" counts the messages holding an exact token that the engine's \
             index lookup returns at all.\n\n{summary}\n## Every query\n\n\
             | kind | query | relevant messages | recall@50 cco / native | nDCG@10 cco / native |\n| --- | --- | ---: | ---: | ---: |\n{}\n",
            corpus.messages.len(),
            lines.join("\n"),
        );
        std::fs::write(doc, page).map_err(|e| format!("{}: {e}", doc.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_into_words() {
        assert_eq!(identifier_words("getUserData"), ["get", "user", "data"]);
        assert_eq!(
            identifier_words("MAX_RETRY_COUNT"),
            ["max", "retry", "count"]
        );
        assert_eq!(identifier_words("HashMap"), ["hash", "map"]);
    }

    #[test]
    fn the_oracle_sees_every_spelling_of_a_name() {
        let oracle = Oracle::Joined(vec!["user".into(), "data".into()]);
        for text in [
            "call getUserData()",
            "the user_data table",
            "USER-DATA",
            "load user data now",
        ] {
            assert_eq!(
                oracle.grade(&text.to_lowercase(), &squeezed(text)),
                2,
                "{text}"
            );
        }
        assert_eq!(
            oracle.grade("data for a user", &squeezed("data for a user")),
            1
        );
        assert_eq!(oracle.grade("nothing here", &squeezed("nothing here")), 0);
        let exact = Oracle::Exact("e0382".into());
        assert_eq!(exact.grade("error[e0382]: borrow", ""), 2);
        assert_eq!(exact.grade("xe0382 e03821", ""), 0);
    }

    #[test]
    fn metrics_reward_the_right_order() {
        let grades: HashMap<usize, u8> = [(1, 2), (2, 2), (3, 1)].into_iter().collect();
        assert!((ndcg(&[1, 2, 3], &grades, 10) - 1.0).abs() < 1e-9);
        assert!(ndcg(&[9, 3, 1, 2], &grades, 10) < ndcg(&[1, 3, 2], &grades, 10));
        assert_eq!(recall(&[1, 9], &grades, 50), 0.5);
    }

    #[test]
    fn a_small_corpus_yields_a_full_judged_set() {
        let corpus = corpus::generate(10_000, 5);
        let queries = judged_queries(&corpus);
        assert!(queries.len() >= 40, "{}", queries.len());
        assert!(queries.iter().any(|q| q.kind == "error code"));
    }
}
