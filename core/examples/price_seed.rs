//! Prints the SQL that seeds cco.model_pricing with every Anthropic model of LiteLLM's price data.
//! scripts/refresh-prices.sh runs it; see the "Costs" section of the README.
//!
//! Usage: cargo run -q -p cco-core --example price_seed -- model_prices_and_context_window_backup.json

use cco_core::analytics::{anthropic_prices, ModelPrice};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: price_seed <LiteLLM model_prices_and_context_window.json>");
        std::process::exit(2);
    };
    let data = std::fs::read_to_string(&path)
        .map_err(|error| error.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|error| format!("{path}: {error}")))
        .and_then(|data| anthropic_prices(&data));
    match data {
        Ok(prices) => print!("{}", seed_sql(&prices)),
        Err(problem) => {
            eprintln!("price_seed: {problem}");
            std::process::exit(1);
        }
    }
}

fn seed_sql(prices: &[ModelPrice]) -> String {
    let value = |decimal: &Option<String>| decimal.clone().unwrap_or_else(|| "null".to_owned());
    let rows: Vec<String> = prices
        .iter()
        .map(|price| {
            let long = &price.long_context_rates;
            format!(
                "    ('{}', {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                price.model.replace('\'', "''"),
                value(&price.rates.input),
                value(&price.rates.output),
                value(&price.rates.cache_write_5m),
                value(&price.rates.cache_write_1h),
                value(&price.rates.cache_read),
                price
                    .long_context_above_tokens
                    .map_or("null".to_owned(), |tokens| tokens.to_string()),
                value(&long.input),
                value(&long.output),
                value(&long.cache_write_5m),
                value(&long.cache_write_1h),
                value(&long.cache_read),
                value(&price.web_search_per_request),
                value(&price.fast_multiplier),
            )
        })
        .collect();
    format!(
        "insert into cco.model_pricing
    (model, input_per_million, output_per_million, cache_write_per_million, cache_write_1h_per_million,
     cache_read_per_million, long_context_above_tokens, input_above_per_million, output_above_per_million,
     cache_write_above_per_million, cache_write_1h_above_per_million, cache_read_above_per_million,
     web_search_per_request, fast_multiplier, effective_from, seeded)
select v.model, v.input::numeric, v.output::numeric, v.cache_write::numeric, v.cache_write_1h::numeric,
       v.cache_read::numeric, v.above_tokens::bigint, v.input_above::numeric, v.output_above::numeric,
       v.cache_write_above::numeric, v.cache_write_1h_above::numeric, v.cache_read_above::numeric,
       v.web_search::numeric, v.fast::numeric, '-infinity'::date, true
from (values
{}
) as v (model, input, output, cache_write, cache_write_1h, cache_read, above_tokens, input_above, output_above,
         cache_write_above, cache_write_1h_above, cache_read_above, web_search, fast);
",
        rows.join(",\n")
    )
}
