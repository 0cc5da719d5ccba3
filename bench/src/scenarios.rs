//! The benchmark scenarios. Each one measures cco and, where a user would otherwise pick one,
//! the native PostgreSQL way on the same data in the same run, and adds figures to the report.

use std::collections::HashMap;
use std::time::Instant;

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use crate::corpus::Corpus;
use crate::load;
use crate::report::{quantile, Better, Figure};
use crate::rng::Rng;

/// The member the row-level-security scenario searches as (member of every project).
const MEMBER: &str = "00000000-0000-4000-8000-00000000beef";

pub struct Bench<'a> {
    pub connection: String,
    pub database: String,
    pub admin: Client,
    pub corpus: &'a Corpus,
    pub figures: Vec<Figure>,
    pub log: bool,
}

/// A database error as the server worded it.
pub fn db(error: postgres::Error) -> String {
    match error.as_db_error() {
        Some(server) => format!(
            "{}{}",
            server.message(),
            server
                .detail()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
        None => error.to_string(),
    }
}

fn recreate_database(maintenance: &mut Client, database: &str) -> Result<(), String> {
    maintenance
        .batch_execute(&format!("drop database if exists {database} with (force)"))
        .map_err(db)?;
    maintenance
        .batch_execute(&format!("create database {database}"))
        .map_err(db)
}

/// A connection as an application holds one. Timed statements are prepared once, as PostgREST
/// and drivers that prepare repeated statements do, so a timed call is one round trip; every
/// execution is still planned for its parameters (as an unprepared statement would be), so
/// neither engine gains a cached plan the other lacks.
fn connect(connection: &str, database: &str) -> Result<Client, String> {
    let mut client = Client::connect(&format!("{connection} dbname={database}"), NoTls)
        .map_err(|e| format!("cannot connect to {database}: {}", db(e)))?;
    client
        .batch_execute("set plan_cache_mode = force_custom_plan")
        .map_err(db)?;
    Ok(client)
}

impl<'a> Bench<'a> {
    pub fn new(
        connection: &str,
        database: &str,
        corpus: &'a Corpus,
        log: bool,
    ) -> Result<Bench<'a>, String> {
        let mut maintenance = connect(connection, "postgres")?;
        recreate_database(&mut maintenance, database)?;
        for (role, options) in [
            ("anon", "nologin"),
            ("authenticated", "nologin"),
            ("service_role", "nologin bypassrls"),
        ] {
            let exists = maintenance
                .query_opt("select 1 from pg_roles where rolname = $1", &[&role])
                .map_err(db)?;
            if exists.is_none() {
                maintenance
                    .batch_execute(&format!("create role {role} {options}"))
                    .map_err(db)?;
            }
        }
        let mut admin = connect(connection, database)?;
        admin
            .batch_execute("set client_min_messages = warning; create extension cco cascade")
            .map_err(|e| format!("create extension cco: {}", db(e)))?;
        admin
            .batch_execute(include_str!("../sql/native.sql"))
            .map_err(|e| format!("native baseline: {}", db(e)))?;
        Ok(Bench {
            connection: connection.to_owned(),
            database: database.to_owned(),
            admin,
            corpus,
            figures: Vec::new(),
            log,
        })
    }

    pub fn drop_database(&mut self) -> Result<(), String> {
        let mut maintenance = connect(&self.connection, "postgres")?;
        maintenance
            .batch_execute(&format!(
                "drop database if exists {} with (force)",
                self.database
            ))
            .map_err(db)
    }

    fn say(&self, message: &str) {
        if self.log {
            eprintln!("  {message}");
        }
    }

    fn run(&mut self, sql: &str) -> Result<(), String> {
        self.admin
            .batch_execute(sql)
            .map_err(|e| format!("{sql}: {}", db(e)))
    }

    /// Waits (a minute at most) until no autovacuum worker is running: on a two-core machine one
    /// takes half of it, which a timed scenario must not share, whichever engine it measures.
    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..120 {
            let busy: i64 = self
                .admin
                .query_one("select count(*) from pg_stat_activity where backend_type = 'autovacuum worker'", &[])
                .map_err(db)?
                .get(0);
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        self.say("autovacuum still running after a minute; timing anyway");
        Ok(())
    }

    fn rows_per_second(&self, rows: usize, seconds: f64) -> f64 {
        rows as f64 / seconds.max(1e-9)
    }

    /// Bulk ingest through every variant, then tool calls; leaves cco and native_setbased loaded.
    pub fn ingest(&mut self) -> Result<(), String> {
        let corpus = self.corpus;
        let total = corpus.messages.len();
        self.say(&format!("bulk ingest of {total} messages"));
        let bare = load::load_messages(&mut self.admin, "bare.messages", corpus, total)?;
        let fts = load::load_messages(&mut self.admin, "native_fts.messages", corpus, total)?;
        let search_only =
            load::load_messages(&mut self.admin, "cco_search.messages", corpus, total)?;
        // Measured, not kept: the scenarios after the load should find the database they always did.
        self.run("drop schema cco_search cascade")?;
        load::load_containers(&mut self.admin, "native_setbased", corpus)?;
        let setbased =
            load::load_messages(&mut self.admin, "native_setbased.messages", corpus, total)?;
        let seed_sample = total.min(20_000);
        load::load_containers(&mut self.admin, "native", corpus)?;
        let seed = load::load_messages(&mut self.admin, "native.messages", corpus, seed_sample)?;
        load::load_containers(&mut self.admin, "cco", corpus)?;
        let cco = load::load_messages(&mut self.admin, "cco.messages", corpus, total)?;
        let cco_rate = self.rows_per_second(total, cco);
        let fts_rate = self.rows_per_second(total, fts);
        let setbased_rate = self.rows_per_second(total, setbased);
        self.figures.push(
            Figure::new(
                "bulk ingest, whole stack (COPY, 5,000-row batches)",
                "rows/s",
                Better::Higher,
            )
            .cco(cco_rate)
            .native(setbased_rate)
            .target(">= 25,000 rows/s", cco_rate >= 25_000.0)
            .note("native: same schema, english FTS, set-based triggers"),
        );
        self.figures.push(
            Figure::new("bulk ingest, search column and index alone: cco.to_tsvector + rank index vs english tsvector + GIN", "rows/s", Better::Higher)
                .cco(self.rows_per_second(total, search_only))
                .native(fts_rate)
                .target("not slower", search_only <= fts)
                .note("the same table, primary key and COPY batches either side; only the search column and its index differ"),
        );
        self.figures.push(
            Figure::new("bulk ingest, whole stack vs the english tsvector + GIN table alone", "rows/s", Better::Higher)
                .cco(cco_rate)
                .native(fts_rate)
                .note("context: cco also maintains four more b-trees, thread links and statistics that the native table lacks"),
        );
        self.figures.push(
            Figure::new(
                "bulk ingest, seed design with per-row count(*) triggers",
                "rows/s",
                Better::Higher,
            )
            .cco(cco_rate)
            .native(self.rows_per_second(seed_sample, seed))
            .note(format!(
                "native measured on the first {seed_sample} messages"
            )),
        );
        self.figures.push(
            Figure::new(
                "bare INSERT limit: primary key only (context)",
                "rows/s",
                Better::Higher,
            )
            .native(self.rows_per_second(total, bare)),
        );
        let calls_cco = load::load_tool_calls(&mut self.admin, "cco", corpus)?;
        let calls_native = load::load_tool_calls(&mut self.admin, "native_setbased", corpus)?;
        self.figures.push(
            Figure::new("tool calls ingest", "rows/s", Better::Higher)
                .cco(self.rows_per_second(corpus.tool_calls.len(), calls_cco))
                .native(self.rows_per_second(corpus.tool_calls.len(), calls_native)),
        );
        self.say("vacuum analyze");
        self.run("vacuum analyze")?;
        // The load dirtied gigabytes of pages; without a checkpoint now, writing them out (spread
        // over checkpoint_timeout) would compete with every scenario timed after it.
        self.run("checkpoint")?;
        Ok(())
    }

    /// Every statistic cco keeps must equal a recount after the load.
    pub fn check_counts(&mut self) -> Result<(), String> {
        let wrong: i64 = self
            .admin
            .query_one(
                "select count(*) from cco.conversations c where message_count <> \
                 (select count(*) from cco.messages m where m.conversation_id = c.id)",
                &[],
            )
            .map_err(db)?
            .get(0);
        if wrong > 0 {
            return Err(format!(
                "{wrong} conversations have a wrong message_count after the load"
            ));
        }
        Ok(())
    }

    /// Times a query `repeat` times after one warm-up run; returns milliseconds, sorted.
    fn time(
        client: &mut Client,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        repeat: usize,
    ) -> Result<Vec<f64>, String> {
        let statement = client
            .prepare(sql)
            .map_err(|e| format!("{sql}: {}", db(e)))?;
        client
            .query(&statement, params)
            .map_err(|e| format!("{sql}: {}", db(e)))?;
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let started = Instant::now();
            client
                .query(&statement, params)
                .map_err(|e| format!("{sql}: {}", db(e)))?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        Ok(times)
    }

    /// The query mix: selective terms, common words, phrases, identifiers and path components,
    /// taken from the corpus itself.
    pub fn query_mix(&self) -> Vec<(&'static str, String)> {
        let corpus = self.corpus;
        let mut rng = Rng::new(2024);
        let sample: Vec<&str> = (0..4_000)
            .map(|_| {
                corpus.messages[rng.below(corpus.messages.len())]
                    .content
                    .as_str()
            })
            .collect();
        // A selective query is a word whose term (what both engines look up, once stemmed) is
        // rare wherever the tokenizer finds it: "actualing" is rare as written but searches for
        // the common "actual", and a word seldom written alone can be common inside identifiers.
        let mut term_frequency: HashMap<String, usize> = HashMap::new();
        let mut words: HashMap<String, String> = HashMap::new();
        for text in &sample {
            for term in cco_core::search::terms(text) {
                *term_frequency.entry(term).or_default() += 1;
            }
            for word in text.split_whitespace() {
                let word = word.trim_matches(|c: char| !c.is_alphanumeric());
                if word.len() >= 6 && word.chars().all(|c| c.is_ascii_lowercase()) {
                    if let [term] = cco_core::search::terms(word).as_slice() {
                        words.entry(word.to_owned()).or_insert_with(|| term.clone());
                    }
                }
            }
        }
        let mut selective: Vec<&String> = words
            .iter()
            .filter(|(_, term)| term_frequency.get(term.as_str()) == Some(&1))
            .map(|(word, _)| word)
            .collect();
        selective.sort();
        let mut queries: Vec<(&'static str, String)> = Vec::new();
        for i in 0..8 {
            queries.push((
                "selective",
                selective[(i * 7919) % selective.len().max(1)].clone(),
            ));
        }
        for word in [
            "error", "test", "handler", "config", "request", "cache", "session", "timeout",
        ] {
            queries.push(("common", word.to_owned()));
        }
        let mut picked = |kind: &'static str, accept: &dyn Fn(&str) -> Option<String>| {
            let mut found = 0;
            let mut attempts = 0;
            while found < 8 && attempts < 100_000 {
                attempts += 1;
                let text = sample[rng.below(sample.len())];
                let words: Vec<&str> = text.split_whitespace().collect();
                if words.len() < 3 {
                    continue;
                }
                let at = rng.below(words.len() - 1);
                if let Some(query) = accept(&format!("{} {}", words[at], words[at + 1])) {
                    queries.push((kind, query));
                    found += 1;
                }
            }
        };
        picked("phrase", &|pair: &str| {
            let plain = pair.chars().all(|c| c.is_ascii_lowercase() || c == ' ') && pair.len() > 9;
            plain.then(|| format!("\"{pair}\""))
        });
        picked("identifier", &|pair: &str| {
            let word = pair
                .split(' ')
                .next()?
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
            let camel = word.len() > 8
                && word.chars().next()?.is_ascii_lowercase()
                && word.chars().any(|c| c.is_ascii_uppercase());
            camel.then(|| word.to_owned())
        });
        picked("path", &|pair: &str| {
            let word = pair.split(' ').next()?;
            let stem = word.rsplit('/').next()?.split('.').next()?;
            (word.contains('/')
                && word.contains('.')
                && stem.len() > 5
                && stem.chars().all(|c| c.is_ascii_lowercase()))
            .then(|| stem.to_owned())
        });
        queries
    }

    /// Search: cco's ranked, highlighted top 50 against native ts_rank_cd + ts_headline top 50.
    pub fn search(&mut self, repeat: usize) -> Result<(), String> {
        const CCO: &str = "select count(*), count(*) filter (where headline like '%<mark>%') from cco.search_messages($1, limit_count => 50)";
        const NATIVE: &str = "with q as (select websearch_to_tsquery('english', $1) as q) \
            select count(*), count(*) filter (where h like '%<b>%') from ( \
              select ts_headline('english', top.content, q.q) as h from ( \
                select m.content, ts_rank_cd(m.search_vector, q.q) as rank \
                from native_setbased.messages m, q where m.search_vector @@ q.q \
                order by rank desc limit 50) top, q) highlighted";
        let queries = self.query_mix();
        self.settle()?;
        // First as the bulk load left the ranked index (segments of every size, which VACUUM
        // merges over time), then merged into one as README advises after a bulk load: cco's
        // counterpart of the VACUUM that flushed GIN's pending list on the native side.
        let segments: i64 = self
            .admin
            .query_one(
                "select count(*) from cco.rank_index_segments('cco.messages_rank_idx')",
                &[],
            )
            .map_err(db)?
            .get(0);
        let mut as_loaded = Vec::new();
        for (_, query) in &queries {
            as_loaded.extend(Self::time(&mut self.admin, CCO, &[query], repeat)?);
        }
        as_loaded.sort_by(f64::total_cmp);
        self.say("optimize the ranked index");
        let started = Instant::now();
        self.run("select cco.optimize_rank_index('cco.messages_rank_idx')")?;
        self.figures.push(
            Figure::new(format!("merge the ranked index after the bulk load ({segments} segments into one, cco.optimize_rank_index)"), "s", Better::Lower)
                .cco(started.elapsed().as_secs_f64()),
        );
        // Per kind of query: cco's and native's times, and how many results each found.
        type Timings = (Vec<f64>, Vec<f64>, i64, i64);
        let mut by_kind: HashMap<&str, Timings> = HashMap::new();
        let mut all = (Vec::new(), Vec::new());
        for (kind, query) in &queries {
            self.say(&format!("search {kind}: {query}"));
            let cco = Self::time(&mut self.admin, CCO, &[query], repeat)?;
            let native = Self::time(&mut self.admin, NATIVE, &[query], repeat)?;
            let cco_found: i64 = self.admin.query_one(CCO, &[query]).map_err(db)?.get(0);
            let native_found: i64 = self.admin.query_one(NATIVE, &[query]).map_err(db)?.get(0);
            self.say(&format!(
                "  cco {:.1} ms, native {:.1} ms (medians)",
                quantile(&cco, 0.5),
                quantile(&native, 0.5)
            ));
            let entry = by_kind.entry(kind).or_default();
            entry.0.extend(&cco);
            entry.1.extend(&native);
            entry.2 += cco_found;
            entry.3 += native_found;
            all.0.extend(cco);
            all.1.extend(native);
        }
        for kind in ["selective", "common", "phrase", "identifier", "path"] {
            let Some((mut cco, mut native, cco_found, native_found)) = by_kind.remove(kind) else {
                continue;
            };
            cco.sort_by(f64::total_cmp);
            native.sort_by(f64::total_cmp);
            let p50 = quantile(&cco, 0.5);
            let mut figure = Figure::new(
                format!("search top 50 + headlines, {kind} queries, p50"),
                "ms",
                Better::Lower,
            )
            .cco(p50)
            .native(quantile(&native, 0.5))
            .note(format!(
                "results found: cco {cco_found}, native {native_found}"
            ));
            if kind == "selective" {
                let p95 = quantile(&cco, 0.95);
                figure = figure.target(format!("p95 < 50 ms (p95 here: {p95:.1} ms)"), p95 < 50.0);
            }
            self.figures.push(figure);
        }
        all.0.sort_by(f64::total_cmp);
        all.1.sort_by(f64::total_cmp);
        for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            let (cco, native) = (quantile(&all.0, q), quantile(&all.1, q));
            let mut figure = Figure::new(
                format!(
                    "search top 50 + headlines, whole mix ({} queries), {label}",
                    queries.len()
                ),
                "ms",
                Better::Lower,
            )
            .cco(cco)
            .native(native);
            if label == "p50" {
                figure = figure.target(">= 10x faster", native / cco >= 10.0);
            }
            self.figures.push(figure);
        }
        self.figures.push(
            Figure::new(format!("search top 50 + headlines, whole mix, p50, before the merge ({segments} segments)"), "ms", Better::Lower)
                .cco(quantile(&as_loaded, 0.5))
                .native(quantile(&all.1, 0.5)),
        );
        Ok(())
    }

    /// Highlighting alone on the same rows: cco.highlight against ts_headline.
    pub fn highlight(&mut self) -> Result<(), String> {
        let sql_ids =
            "select id from cco.messages where search_vector @@ cco.to_tsquery('error') limit 2000";
        let ids: Vec<uuid::Uuid> = self
            .admin
            .query(sql_ids, &[])
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let cco = Self::time(&mut self.admin,
            "select sum(length(cco.highlight(content, 'error handler'))) from cco.messages where id = any($1)", &[&ids], 3)?;
        let native = Self::time(&mut self.admin,
            "select sum(length(ts_headline('english', content, websearch_to_tsquery('english', 'error handler')))) \
             from native_setbased.messages where id = any($1)", &[&ids], 3)?;
        let (cco, native) = (quantile(&cco, 0.5), quantile(&native, 0.5));
        self.figures.push(
            Figure::new(
                format!("highlight {} messages", ids.len()),
                "ms",
                Better::Lower,
            )
            .cco(cco)
            .native(native)
            .target(">= 5x faster than ts_headline", native / cco >= 5.0),
        );
        Ok(())
    }

    pub fn suggestions(&mut self) -> Result<(), String> {
        let mut times = Vec::new();
        for prefix in ["err", "hand", "conf", "tes", "cach", "sess", "time", "req"] {
            times.extend(Self::time(
                &mut self.admin,
                "select * from cco.get_search_suggestions($1, 'message', 10)",
                &[&prefix],
                3,
            )?);
        }
        times.sort_by(f64::total_cmp);
        self.figures.push(
            Figure::new("suggestions while typing, p50", "ms", Better::Lower)
                .cco(quantile(&times, 0.5))
                .note(format!("p95 {:.1} ms", quantile(&times, 0.95))),
        );
        Ok(())
    }

    /// A conversation's messages in thread order, for conversations of every size.
    pub fn conversation_retrieval(&mut self) -> Result<(), String> {
        let ids: Vec<uuid::Uuid> = self
            .admin
            .query(
                "select id from cco.conversations order by message_count desc limit 20",
                &[],
            )
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let (mut cco, mut native) = (Vec::new(), Vec::new());
        for id in &ids {
            cco.extend(Self::time(&mut self.admin,
                "select id, parent_id, depth, role, content from cco.messages where conversation_id = $1 order by \"timestamp\", id", &[id], 3)?);
            native.extend(Self::time(&mut self.admin,
                "select id, parent_id, depth, role, content from native_setbased.messages where conversation_id = $1 order by \"timestamp\", id", &[id], 3)?);
        }
        cco.sort_by(f64::total_cmp);
        native.sort_by(f64::total_cmp);
        self.figures.push(
            Figure::new(
                "conversation retrieval in thread order (20 largest), p50",
                "ms",
                Better::Lower,
            )
            .cco(quantile(&cco, 0.5))
            .native(quantile(&native, 0.5)),
        );
        Ok(())
    }

    pub fn analytics(&mut self) -> Result<(), String> {
        // At least 1,000,000 tool-call times: the corpus's own, repeated as often as needed.
        let calls = self.corpus.tool_calls.len().max(1);
        let copies = 1_000_000_usize.div_ceil(calls);
        self.run(&format!(
            "drop table if exists public.tool_call_times; \
             create table public.tool_call_times as \
                 select t.execution_time_ms from cco.tool_calls t cross join generate_series(1, {copies})"))?;
        self.run("vacuum analyze public.tool_call_times")?;
        self.settle()?;
        let times: i64 = self
            .admin
            .query_one("select count(*) from public.tool_call_times", &[])
            .map_err(db)?
            .get(0);
        const SUMMARY: &str =
            "select cco.latency_summary(execution_time_ms) from public.tool_call_times";
        const PERCENTILES: &str = "select percentile_cont(0.5) within group (order by execution_time_ms), \
            percentile_cont(0.95) within group (order by execution_time_ms), \
            percentile_cont(0.99) within group (order by execution_time_ms) from public.tool_call_times";
        // What reading the rows costs either way: the built-in count and avg, parallel like cco's.
        const SCAN: &str = "select count(*), avg(execution_time_ms) from public.tool_call_times";
        // Timed on a new connection, as a dashboard's pooled connection would run them. The
        // connection that ran the bulk load runs parallel plans (cco's and count's, not the serial
        // percentile_cont) 10-20 ms slower, for a reason not found yet; it is reported too.
        let mut fresh = connect(&self.connection, &self.database)?;
        let summary = Self::time(&mut fresh, SUMMARY, &[], 7)?;
        let percentiles = Self::time(&mut fresh, PERCENTILES, &[], 7)?;
        let scan = Self::time(&mut fresh, SCAN, &[], 7)?;
        let (s, p, floor) = (
            quantile(&summary, 0.5),
            quantile(&percentiles, 0.5),
            quantile(&scan, 0.5),
        );
        let loader_summary = quantile(&Self::time(&mut self.admin, SUMMARY, &[], 7)?, 0.5);
        let loader_percentiles = quantile(&Self::time(&mut self.admin, PERCENTILES, &[], 7)?, 0.5);
        self.figures.push(Figure::new(format!("latency summary of {times} tool-call times vs percentile_cont x3"), "ms", Better::Lower)
            .cco(s).native(p).target(">= 3x faster", p / s >= 3.0)
            .note(format!(
                "reading the rows alone (count and avg) takes {floor:.1} ms; beyond that, cco aggregates in {:.1} ms and percentile_cont in {:.1} ms; \
                 on the connection that ran the bulk load: {loader_summary:.1} against {loader_percentiles:.1} ms, {:.1}x",
                (s - floor).max(0.0), (p - floor).max(0.0), loader_percentiles / loader_summary)));

        let cco = Self::time(&mut self.admin, "select * from cco.tool_analytics", &[], 3)?;
        let native = Self::time(&mut self.admin,
            "select tool_name, count(*), count(*) filter (where status = 'success'), count(*) filter (where status = 'error'), \
             count(*) filter (where status = 'timeout'), avg(execution_time_ms), \
             percentile_cont(0.5) within group (order by execution_time_ms), \
             percentile_cont(0.95) within group (order by execution_time_ms), min(execution_time_ms), max(execution_time_ms), \
             count(distinct date_trunc('day', started_at)), count(distinct message_id), count(distinct conversation_id), \
             count(distinct project_id), max(started_at) from native_setbased.tool_calls group by tool_name", &[], 3)?;
        let cco_ms = quantile(&cco, 0.5);
        self.figures.push(
            Figure::new("tool analytics, whole database", "ms", Better::Lower)
                .cco(cco_ms)
                .native(quantile(&native, 0.5))
                .target("< 1 s", cco_ms < 1000.0),
        );

        let project: uuid::Uuid = self
            .admin
            .query_one("select project_id from cco.conversations group by project_id order by sum(message_count) desc limit 1", &[])
            .map_err(db)?
            .get(0);
        let messages: i64 = self
            .admin
            .query_one(
                "select sum(message_count)::bigint from cco.conversations where project_id = $1",
                &[&project],
            )
            .map_err(db)?
            .get(0);
        for view in [
            "project_analytics",
            "conversation_analytics",
            "daily_activity",
            "token_usage_daily",
            "tool_usage_daily",
            "hourly_activity",
        ] {
            let times = Self::time(
                &mut self.admin,
                &format!("select * from cco.{view} where project_id = $1"),
                &[&project],
                3,
            )?;
            let ms = quantile(&times, 0.5);
            self.figures.push(
                Figure::new(
                    format!("dashboard: cco.{view} for the largest project ({messages} messages)"),
                    "ms",
                    Better::Lower,
                )
                .cco(ms)
                .target("< 100 ms", ms < 100.0),
            );
        }
        let times = Self::time(
            &mut self.admin,
            "select * from cco.usage_blocks(array[$1]::uuid[])",
            &[&project],
            3,
        )?;
        let ms = quantile(&times, 0.5);
        self.figures.push(
            Figure::new(
                format!(
                    "dashboard: cco.usage_blocks for the largest project ({messages} messages)"
                ),
                "ms",
                Better::Lower,
            )
            .cco(ms)
            .target("< 100 ms", ms < 100.0),
        );
        let times = Self::time(&mut self.admin, "select cco.refresh_analytics()", &[], 2)?;
        self.figures.push(
            Figure::new("refresh_analytics()", "ms", Better::Lower).cco(quantile(&times, 0.5)),
        );
        Ok(())
    }

    /// The same searches as a project member (row level security applies) and as the service
    /// role (which bypasses it), over the same visible data.
    pub fn rls_overhead(&mut self, repeat: usize) -> Result<(), String> {
        self.run(&format!("insert into cco.project_members (project_id, user_id, role) select id, '{MEMBER}', 'viewer' from cco.projects"))?;
        let queries = self.query_mix();
        self.settle()?;
        let mut client = connect(&self.connection, &self.database)?;
        let search = client
            .prepare("select * from cco.search_messages($1, limit_count => 50)")
            .map_err(db)?;
        let mut times = |role: &str, claims: &str| -> Result<Vec<f64>, String> {
            let mut times = Vec::new();
            for (_, query) in &queries {
                for run in 0..=repeat {
                    let mut transaction = client.transaction().map_err(db)?;
                    transaction
                        .batch_execute(&format!("set local role {role}"))
                        .map_err(db)?;
                    transaction
                        .execute(
                            "select set_config('request.jwt.claims', $1, true)",
                            &[&claims],
                        )
                        .map_err(db)?;
                    let started = Instant::now();
                    transaction.query(&search, &[query]).map_err(db)?;
                    if run > 0 {
                        times.push(started.elapsed().as_secs_f64() * 1e3);
                    }
                    transaction.rollback().map_err(db)?;
                }
            }
            times.sort_by(f64::total_cmp);
            Ok(times)
        };
        let member = times(
            "authenticated",
            &format!("{{\"sub\": \"{MEMBER}\", \"role\": \"authenticated\"}}"),
        )?;
        let service = times("service_role", "{\"role\": \"service_role\"}")?;
        let (m, s) = (quantile(&member, 0.5), quantile(&service, 0.5));
        let overhead = (m - s) / s * 100.0;
        self.figures.push(
            Figure::new(
                "search as a project member vs as the service role, p50",
                "ms",
                Better::Lower,
            )
            .cco(m)
            .native(s)
            .target(
                format!("RLS overhead < 20 % (here {overhead:.1} %)"),
                overhead < 20.0,
            )
            .note("native column: the service role, which bypasses RLS"),
        );
        Ok(())
    }

    pub fn disk_size(&mut self) -> Result<(), String> {
        let size = |admin: &mut Client, schema: &str| -> Result<f64, String> {
            let row = admin
                .query_one(
                    &format!(
                        "select sum(pg_total_relation_size(c.oid))::float8 from pg_class c \
                 where c.relnamespace = '{schema}'::regnamespace and c.relkind = 'r' \
                   and c.relname in ('projects', 'conversations', 'messages', 'tool_calls')"
                    ),
                    &[],
                )
                .map_err(db)?;
            Ok(row.get(0))
        };
        let cco = size(&mut self.admin, "cco")?;
        let native = size(&mut self.admin, "native_setbased")?;
        let per_million = 1e6 / self.corpus.messages.len() as f64 / 1024.0 / 1024.0;
        self.figures.push(
            Figure::new(
                "on-disk size per 1M messages (tables + indexes + TOAST)",
                "MB",
                Better::Lower,
            )
            .cco(cco * per_million)
            .native(native * per_million)
            .target("<= 1.5x native", cco / native <= 1.5),
        );
        Ok(())
    }

    /// Transcripts through cco.ingest_transcript, in a database of their own.
    pub fn transcript_ingest(&mut self, lines_wanted: usize) -> Result<(), String> {
        let files = load::transcripts(self.corpus, lines_wanted);
        let lines: usize = files.iter().map(|f| f.2).sum();
        let database = format!("{}_transcripts", self.database);
        let mut maintenance = connect(&self.connection, "postgres")?;
        recreate_database(&mut maintenance, &database)?;
        let mut client = connect(&self.connection, &database)?;
        client
            .batch_execute("set client_min_messages = warning; create extension cco cascade")
            .map_err(db)?;
        self.say(&format!(
            "ingest_transcript: {} files, {lines} lines",
            files.len()
        ));
        let started = Instant::now();
        for (path, text, _) in &files {
            client
                .query_one("select cco.ingest_transcript($1, $2)", &[text, path])
                .map_err(|e| format!("{path}: {}", db(e)))?;
        }
        let rate = lines as f64 / started.elapsed().as_secs_f64();
        self.figures.push(
            Figure::new(
                format!(
                    "cco.ingest_transcript ({} files, {lines} lines)",
                    files.len()
                ),
                "lines/s",
                Better::Higher,
            )
            .cco(rate)
            .target(">= 20,000 lines/s", rate >= 20_000.0),
        );
        drop(client);
        maintenance
            .batch_execute(&format!("drop database {database} with (force)"))
            .map_err(db)?;
        Ok(())
    }

    /// Four clients appending to the same conversations at once; counts must stay exact.
    pub fn concurrent_ingest(&mut self, rows_per_client: usize) -> Result<(), String> {
        let setup = "insert into cco.projects (id, name, path) values ('00000000-0000-4000-8000-00000000c0c0', 'concurrent', '/concurrent'); \
                     insert into cco.conversations (id, project_id) select ('00000000-0000-4000-8001-' || lpad(g::text, 12, '0'))::uuid, \
                       '00000000-0000-4000-8000-00000000c0c0' from generate_series(1, 8) g; \
                     insert into native_setbased.projects (id, name, path) values ('00000000-0000-4000-8000-00000000c0c0', 'concurrent', '/concurrent'); \
                     insert into native_setbased.conversations (id, project_id) select ('00000000-0000-4000-8001-' || lpad(g::text, 12, '0'))::uuid, \
                       '00000000-0000-4000-8000-00000000c0c0' from generate_series(1, 8) g;";
        self.run(setup)?;
        let content: Vec<String> = self
            .corpus
            .messages
            .iter()
            .take(2_000)
            .map(|m| m.content.clone())
            .collect();
        let mut rates = Vec::new();
        for schema in ["cco", "native_setbased"] {
            let started = Instant::now();
            let mut handles = Vec::new();
            for client_number in 0..4usize {
                let connection = format!("{} dbname={}", self.connection, self.database);
                let content = content.clone();
                let schema = schema.to_owned();
                handles.push(std::thread::spawn(move || -> Result<(), String> {
                    let mut client = Client::connect(&connection, NoTls).map_err(db)?;
                    let batch = 200;
                    for batch_number in 0..rows_per_client / batch {
                        // each batch goes to two of the eight conversations, shared with the other clients
                        let first = (client_number + batch_number) % 8 + 1;
                        let texts: Vec<&String> = (0..batch).map(|i| &content[(batch_number * batch + i) % content.len()]).collect();
                        client.execute(&format!(
                            "insert into {schema}.messages (id, conversation_id, project_id, role, content, \"timestamp\") \
                             select gen_random_uuid(), ('00000000-0000-4000-8001-' || lpad((case when i % 2 = 0 then $1 else $1 % 8 + 1 end)::text, 12, '0'))::uuid, \
                                    '00000000-0000-4000-8000-00000000c0c0', 'user', t, now() \
                             from unnest($2::text[]) with ordinality as x(t, i)"), &[&(first as i32), &texts]).map_err(db)?;
                    }
                    Ok(())
                }));
            }
            for handle in handles {
                handle
                    .join()
                    .map_err(|_| "a client thread failed".to_owned())??;
            }
            rates.push((rows_per_client / 200 * 200 * 4) as f64 / started.elapsed().as_secs_f64());
        }
        let wrong: i64 = self.admin.query_one(
            "select count(*) from cco.conversations c where project_id = '00000000-0000-4000-8000-00000000c0c0' \
             and message_count <> (select count(*) from cco.messages m where m.conversation_id = c.id)", &[])
            .map_err(db)?.get(0);
        self.figures.push(
            Figure::new(
                "concurrent ingest, 4 clients into 8 shared conversations",
                "rows/s",
                Better::Higher,
            )
            .cco(rates[0])
            .native(rates[1])
            .note(if wrong == 0 {
                "message counts exact".to_owned()
            } else {
                format!("{wrong} wrong counts")
            }),
        );
        if wrong > 0 {
            return Err("message counts were wrong after concurrent ingest".into());
        }
        Ok(())
    }
}
