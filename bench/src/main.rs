//! cco-bench: reproducible benchmarks of cco against native PostgreSQL on the same generated data,
//! in the same run. See bench/README.md.

mod corpus;
mod load;
mod relevance;
mod report;
mod rng;
mod scenarios;
mod text;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

const USAGE: &str = "\
Usage: cco-bench [--messages N] [--repeat N] [--out DIR] [--doc FILE] [--only SCENARIO,...] [--keep]
       cco-bench relevance [--messages N] [--doc FILE]

Generates a corpus of N messages (default 200,000), loads it into cco and into the native
baselines of a fresh database, runs every scenario and prints a markdown table; writes
results.json and results.md to DIR (default bench/results) and, with --doc, a report page.
--only limits the run to some of: search, analytics, rls, size, transcripts, concurrency (the
corpus is always loaded). --keep leaves the database cco_bench in place.
`relevance` judges cco's search against native english full-text search on a judged query set
over a generated corpus (30,000 messages by default): recall@50, nDCG@10, exact matches.
Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD).
";

struct Options {
    /// Scenarios to run (all when empty): ingest, search, analytics, rls, size, transcripts, concurrency.
    only: Vec<String>,
    /// Corpus size: 200,000 messages by default, 30,000 for the relevance evaluation.
    messages: Option<usize>,
    repeat: usize,
    out: PathBuf,
    doc: Option<PathBuf>,
    relevance: bool,
    /// Leave the benchmark database in place afterwards (for looking into a result).
    keep: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        only: Vec::new(),
        messages: None,
        repeat: 3,
        out: PathBuf::from("bench/results"),
        doc: None,
        relevance: false,
        keep: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "relevance" => options.relevance = true,
            "--messages" => {
                options.messages = Some(
                    value("--messages")?
                        .replace(['_', ','], "")
                        .parse()
                        .map_err(|_| "--messages takes a number")?,
                )
            }
            "--repeat" => {
                options.repeat = value("--repeat")?
                    .parse()
                    .map_err(|_| "--repeat takes a number")?
            }
            "--out" => options.out = PathBuf::from(value("--out")?),
            "--doc" => options.doc = Some(PathBuf::from(value("--doc")?)),
            "--only" => options.only = value("--only")?.split(',').map(str::to_owned).collect(),
            "--keep" => options.keep = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// The libpq environment as a connection string (without a database name).
fn connection_from_environment() -> String {
    let get =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut connection = format!(
        "host={} port={} user={}",
        get("PGHOST", "/var/run/postgresql"),
        get("PGPORT", "5432"),
        get("PGUSER", "postgres")
    );
    if let Ok(password) = std::env::var("PGPASSWORD") {
        connection.push_str(&format!(" password={password}"));
    }
    connection
}

fn machine(admin: &mut postgres::Client) -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let setting = |admin: &mut postgres::Client, name: &str| -> String {
        admin
            .query_one(&format!("show {name}"), &[])
            .map(|r| r.get::<_, String>(0))
            .unwrap_or_default()
    };
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_gib": (memory_gib * 10.0).round() / 10.0,
        "postgresql": admin.query_one("select version()", &[]).map(|r| r.get::<_, String>(0)).unwrap_or_default(),
        "shared_buffers": setting(admin, "shared_buffers"),
        "work_mem": setting(admin, "work_mem"),
        "maintenance_work_mem": setting(admin, "maintenance_work_mem"),
        "max_parallel_workers_per_gather": setting(admin, "max_parallel_workers_per_gather"),
        "date": load::timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)),
    })
}

fn run(options: &Options) -> Result<(), String> {
    let connection = connection_from_environment();
    if options.relevance {
        return relevance::run(
            &connection,
            options.messages.unwrap_or(30_000),
            options.doc.as_deref(),
        );
    }
    let started = Instant::now();
    let messages = options.messages.unwrap_or(200_000);
    eprintln!("generating {messages} messages");
    let corpus = corpus::generate(messages, 1);
    eprintln!(
        "  {} messages, {} conversations, {} projects, {} tool calls",
        corpus.messages.len(),
        corpus.conversations.len(),
        corpus.projects.len(),
        corpus.tool_calls.len()
    );
    let mut bench = scenarios::Bench::new(&connection, "cco_bench", &corpus, true)?;
    let context = json!({
        "messages": corpus.messages.len(), "conversations": corpus.conversations.len(),
        "projects": corpus.projects.len(), "tool_calls": corpus.tool_calls.len(), "repeat": options.repeat,
        "machine": machine(&mut bench.admin),
        "command": crate::report::command_line(),
    });
    let wanted =
        |scenario: &str| options.only.is_empty() || options.only.iter().any(|o| o == scenario);
    eprintln!("ingest");
    bench.ingest()?;
    bench.check_counts()?;
    if wanted("search") {
        eprintln!("search");
        bench.search(options.repeat)?;
        bench.highlight()?;
        bench.suggestions()?;
        bench.conversation_retrieval()?;
    }
    if wanted("analytics") {
        eprintln!("analytics");
        bench.analytics()?;
    }
    if wanted("rls") {
        eprintln!("row level security");
        bench.rls_overhead(options.repeat)?;
    }
    if wanted("size") {
        bench.disk_size()?;
    }
    if wanted("transcripts") {
        eprintln!("transcripts");
        bench.transcript_ingest((corpus.messages.len() / 5).clamp(2_000, 100_000))?;
    }
    if wanted("concurrency") {
        eprintln!("concurrency");
        bench.concurrent_ingest((corpus.messages.len() / 20).clamp(2_000, 50_000))?;
    }
    if !options.keep {
        bench.drop_database()?;
    }

    let table = report::markdown(&bench.figures);
    println!("{table}");
    std::fs::create_dir_all(&options.out).map_err(|e| e.to_string())?;
    let json = report::json(&bench.figures, context.clone());
    std::fs::write(
        options.out.join("results.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(options.out.join("results.md"), &table).map_err(|e| e.to_string())?;
    if let Some(doc) = &options.doc {
        std::fs::write(doc, report_page(&context, &table)).map_err(|e| e.to_string())?;
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn report_page(context: &serde_json::Value, table: &str) -> String {
    let machine = &context["machine"];
    let notes = std::fs::read_to_string("bench/notes.md").unwrap_or_default();
    format!(
        "# Benchmarks\n\nGenerated by `{command}` on {date}.\n\n\
         | machine | |\n| --- | --- |\n| CPU | {cpu} ({cores} cores) |\n| memory | {memory} GiB |\n\
         | PostgreSQL | {postgresql} |\n| settings | shared_buffers {sb}, work_mem {wm}, maintenance_work_mem {mwm}, max_parallel_workers_per_gather {par} |\n\
         | corpus | {messages} messages, {conversations} conversations, {projects} projects, {tools} tool calls |\n\n\
         \"cco advantage\" is how many times better cco is than the native alternative on the same data in the same run \
         (above 1: cco is better). Times are medians of {repeat} runs after a warm-up unless a percentile is named.\n\n{table}\n{notes}",
        command = context["command"].as_str().unwrap_or(""),
        date = machine["date"].as_str().unwrap_or(""),
        cpu = machine["cpu"].as_str().unwrap_or(""),
        cores = machine["cores"],
        memory = machine["memory_gib"],
        postgresql = machine["postgresql"].as_str().unwrap_or(""),
        sb = machine["shared_buffers"].as_str().unwrap_or(""),
        wm = machine["work_mem"].as_str().unwrap_or(""),
        mwm = machine["maintenance_work_mem"].as_str().unwrap_or(""),
        par = machine["max_parallel_workers_per_gather"].as_str().unwrap_or(""),
        messages = context["messages"],
        conversations = context["conversations"],
        projects = context["projects"],
        tools = context["tool_calls"],
        repeat = context["repeat"],
    )
}

fn main() -> std::process::ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok(options) => match run(&options) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("cco-bench: {message}");
                std::process::ExitCode::from(1)
            }
        },
        Err(message) => {
            if !message.is_empty() {
                eprintln!("cco-bench: {message}");
            }
            eprint!("{USAGE}");
            std::process::ExitCode::from(2)
        }
    }
}
