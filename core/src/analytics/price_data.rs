//! Anthropic's model prices read from LiteLLM's price data (`model_prices_and_context_window.json`,
//! shipped in the `litellm` package as `model_prices_and_context_window_backup.json`), the price
//! database most tools use. One object per model id; prices are USD per token.
//!
//! What is read for each entry whose `litellm_provider` is `anthropic`:
//! - `input_cost_per_token`, `output_cost_per_token` (required),
//! - `cache_creation_input_token_cost` (5-minute cache writes), `cache_creation_input_token_cost_above_1hr`
//!   (1-hour cache writes), `cache_read_input_token_cost`,
//! - long-context tiers: the same fields with `_above_<N>k_tokens` appended (`input_cost_per_token_above_200k_tokens`,
//!   `cache_creation_input_token_cost_above_1hr_above_100k_tokens`, ...); N must be one value per model,
//! - `search_context_cost_per_query` (web search, per request; the data gives it per search context
//!   size, and Claude's web search has one price: the `medium` one is taken),
//! - `provider_specific_entry.fast` (what fast mode multiplies the price by).
//!
//! Prices come out as exact decimal strings per million tokens (the JSON's shortest decimal
//! form, shifted six places), so SQL stores what the file says without binary rounding.

use serde_json::{Map, Value};

/// Rates of one tier, USD per million tokens as decimal strings; None where the file has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierRates {
    pub input: Option<String>,
    pub output: Option<String>,
    pub cache_write_5m: Option<String>,
    pub cache_write_1h: Option<String>,
    pub cache_read: Option<String>,
}

/// One Anthropic model's prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    pub model: String,
    /// Base rates; `input` and `output` are always present.
    pub rates: TierRates,
    /// Prompt size in tokens above which `long_context_rates` apply.
    pub long_context_above_tokens: Option<i64>,
    pub long_context_rates: TierRates,
    /// USD per web search request.
    pub web_search_per_request: Option<String>,
    /// What fast mode multiplies the price by.
    pub fast_multiplier: Option<String>,
}

const INPUT: &str = "input_cost_per_token";
const OUTPUT: &str = "output_cost_per_token";
const CACHE_WRITE_5M: &str = "cache_creation_input_token_cost";
const CACHE_WRITE_1H: &str = "cache_creation_input_token_cost_above_1hr";
const CACHE_READ: &str = "cache_read_input_token_cost";

/// Every Anthropic model of the price data, sorted by id; an error names the entry and field
/// that is not what the format promises.
pub fn anthropic_prices(data: &Value) -> Result<Vec<ModelPrice>, String> {
    let entries = data.as_object().ok_or("price data must be a JSON object of model ids (LiteLLM's model_prices_and_context_window.json)")?;
    let mut prices = Vec::new();
    for (model, entry) in entries {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        if entry.get("litellm_provider").and_then(Value::as_str) != Some("anthropic") {
            continue;
        }
        prices.push(
            model_price(model, entry)
                .map_err(|problem| format!("price data for {model}: {problem}"))?,
        );
    }
    if prices.is_empty() {
        return Err("price data holds no Anthropic model (no entry with \"litellm_provider\": \"anthropic\")".into());
    }
    prices.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(prices)
}

fn model_price(model: &str, entry: &Map<String, Value>) -> Result<ModelPrice, String> {
    if model.trim().is_empty() {
        return Err("empty model id".into());
    }
    let per_million = |field: &str| {
        entry
            .get(field)
            .map(|value| per_million_decimal(value).map_err(|problem| format!("{field} {problem}")))
            .transpose()
    };
    let rates = TierRates {
        input: Some(per_million(INPUT)?.ok_or(format!("{INPUT} missing"))?),
        output: Some(per_million(OUTPUT)?.ok_or(format!("{OUTPUT} missing"))?),
        cache_write_5m: per_million(CACHE_WRITE_5M)?,
        cache_write_1h: per_million(CACHE_WRITE_1H)?,
        cache_read: per_million(CACHE_READ)?,
    };
    // A model without cache prices gets Anthropic's published multiples of its input price
    // (5-minute writes 1.25x, reads 0.1x); a missing 1-hour price stays missing (cco prices
    // those writes at 2x input: see cco.model_pricing).
    let input = rates.input.clone().unwrap_or_default();
    let rates = TierRates {
        cache_write_5m: rates
            .cache_write_5m
            .clone()
            .or_else(|| Some(scaled_decimal(&input, 125, 2))),
        cache_read: rates
            .cache_read
            .clone()
            .or_else(|| Some(scaled_decimal(&input, 1, 1))),
        ..rates
    };
    let threshold = long_context_threshold(entry)?;
    let long_context_rates = match &threshold {
        Some(suffix) => {
            let above = |field: &str| per_million(&format!("{field}_above_{suffix}_tokens"));
            TierRates {
                input: above(INPUT)?,
                output: above(OUTPUT)?,
                cache_write_5m: above(CACHE_WRITE_5M)?,
                cache_write_1h: above(CACHE_WRITE_1H)?,
                cache_read: above(CACHE_READ)?,
            }
        }
        None => TierRates::default(),
    };
    let web_search_per_request = match entry.get("search_context_cost_per_query") {
        None => None,
        Some(Value::Object(sizes)) => {
            let medium = sizes
                .get("search_context_size_medium")
                .ok_or("search_context_cost_per_query has no search_context_size_medium")?;
            Some(
                decimal(medium)
                    .map_err(|problem| format!("search_context_size_medium {problem}"))?,
            )
        }
        Some(_) => return Err("search_context_cost_per_query is not an object".into()),
    };
    let fast_multiplier = match entry
        .get("provider_specific_entry")
        .and_then(|specific| specific.get("fast"))
    {
        None => None,
        Some(value) => Some(
            decimal(value).map_err(|problem| format!("provider_specific_entry.fast {problem}"))?,
        ),
    };
    Ok(ModelPrice {
        model: model.to_owned(),
        rates,
        long_context_above_tokens: threshold
            .map(|suffix| {
                suffix
                    .trim_end_matches('k')
                    .parse::<i64>()
                    .map(|k| k * 1000)
            })
            .transpose()
            .map_err(|_| "bad long-context threshold")?,
        long_context_rates,
        web_search_per_request,
        fast_multiplier,
    })
}

/// The `<N>k` of the entry's `*_above_<N>k_tokens` fields (batch prices aside), if it has any.
fn long_context_threshold(entry: &Map<String, Value>) -> Result<Option<String>, String> {
    let mut found: Option<String> = None;
    for field in entry.keys() {
        let Some(rest) = field
            .strip_suffix("_tokens")
            .and_then(|rest| rest.rsplit_once("_above_"))
            .map(|(_, n)| n)
        else {
            continue;
        };
        let is_thousands = rest.len() > 1
            && rest.ends_with('k')
            && rest[..rest.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if !is_thousands {
            continue;
        }
        match &found {
            Some(seen) if seen != rest => {
                return Err(format!(
                    "long-context tiers at both {seen} and {rest} tokens"
                ))
            }
            _ => found = Some(rest.to_owned()),
        }
    }
    Ok(found)
}

/// A non-negative JSON number as its shortest exact decimal form.
fn decimal(value: &Value) -> Result<String, String> {
    let number = value
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or("is not a number")?;
    if number < 0.0 {
        return Err("is negative".into());
    }
    // Display of f64 is the shortest decimal that reads back as the same number, never in
    // exponent form: 3e-06 prints as 0.000003.
    Ok(number.to_string())
}

/// `decimal` x `numerator` / 10^`extra_scale`, exactly, as a decimal string (`decimal` is one
/// this module made: digits with at most one point).
fn scaled_decimal(decimal: &str, numerator: u128, extra_scale: usize) -> String {
    let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    let digits: u128 = format!("{whole}{fraction}").parse().unwrap_or(0) * numerator;
    let scale = fraction.len() + extra_scale;
    let text = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = text.split_at(text.len() - scale);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// A per-token price as USD per million tokens, exactly: the decimal point moved six places.
fn per_million_decimal(value: &Value) -> Result<String, String> {
    let text = decimal(value)?;
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut digits = format!("{whole}{fraction:0<6}");
    let point = whole.len() + 6;
    if fraction.len() > 6 {
        digits.insert(point, '.');
    }
    let trimmed = digits.trim_start_matches('0');
    let trimmed = if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_owned()
    };
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn per_token_prices_become_exact_prices_per_million() {
        let per_million = |v: Value| per_million_decimal(&v).unwrap();
        assert_eq!(per_million(json!(3e-06)), "3");
        assert_eq!(per_million(json!(3.75e-06)), "3.75");
        assert_eq!(per_million(json!(1.875e-06)), "1.875");
        assert_eq!(per_million(json!(5e-09)), "0.005");
        assert_eq!(per_million(json!(1.25e-07)), "0.125");
        assert_eq!(per_million(json!(0)), "0");
        assert_eq!(per_million(json!(2)), "2000000");
        assert!(per_million_decimal(&json!("3e-06")).is_err());
        assert_eq!(scaled_decimal("3", 125, 2), "3.75");
        assert_eq!(scaled_decimal("0.8", 125, 2), "1");
        assert_eq!(scaled_decimal("0.25", 1, 1), "0.025");
        assert_eq!(scaled_decimal("15", 1, 1), "1.5");
        assert!(per_million_decimal(&json!(-1e-06)).is_err());
    }

    #[test]
    fn reads_every_dimension_of_an_anthropic_entry() {
        let data = json!({
            "claude-haiku-5-5": {
                "litellm_provider": "anthropic", "mode": "chat",
                "input_cost_per_token": 1e-07, "output_cost_per_token": 5e-07,
                "cache_creation_input_token_cost": 1.25e-07, "cache_creation_input_token_cost_above_1hr": 2e-07,
                "cache_read_input_token_cost": 1e-08,
                "input_cost_per_token_above_100k_tokens": 5e-07, "output_cost_per_token_above_100k_tokens": 2.5e-06,
                "cache_creation_input_token_cost_above_100k_tokens": 6.25e-07,
                "cache_creation_input_token_cost_above_1hr_above_100k_tokens": 1e-06,
                "cache_read_input_token_cost_above_100k_tokens": 5e-08,
                "input_cost_per_token_above_100k_tokens_batches": 2.5e-07,
                "search_context_cost_per_query": {"search_context_size_low": 0.01, "search_context_size_medium": 0.01},
                "provider_specific_entry": {"us": 1.1, "fast": 2}
            },
            "bedrock/claude-haiku-5-5": {"litellm_provider": "bedrock", "input_cost_per_token": 1.0, "output_cost_per_token": 1.0},
            "claude-haiku-latest": {"alias_of": "claude-haiku-5-5"},
            "sample_spec": "not a model"
        });
        let prices = anthropic_prices(&data).unwrap();
        assert_eq!(prices.len(), 1);
        let haiku = &prices[0];
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(haiku.model, "claude-haiku-5-5");
        assert_eq!(
            haiku.rates,
            TierRates {
                input: s("0.1"),
                output: s("0.5"),
                cache_write_5m: s("0.125"),
                cache_write_1h: s("0.2"),
                cache_read: s("0.01")
            }
        );
        assert_eq!(haiku.long_context_above_tokens, Some(100_000));
        assert_eq!(
            haiku.long_context_rates,
            TierRates {
                input: s("0.5"),
                output: s("2.5"),
                cache_write_5m: s("0.625"),
                cache_write_1h: s("1"),
                cache_read: s("0.05")
            }
        );
        assert_eq!(haiku.web_search_per_request, s("0.01"));
        assert_eq!(haiku.fast_multiplier, s("2"));
    }

    #[test]
    fn missing_cache_prices_are_the_published_multiples_of_input() {
        let data = json!({"claude-x": {"litellm_provider": "anthropic", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05}});
        let rates = &anthropic_prices(&data).unwrap()[0].rates;
        assert_eq!(
            (
                rates.cache_write_5m.as_deref(),
                rates.cache_write_1h.as_deref(),
                rates.cache_read.as_deref()
            ),
            (Some("3.75"), None, Some("0.3"))
        );
    }

    #[test]
    fn malformed_data_is_an_error_that_names_the_entry() {
        assert!(anthropic_prices(&json!([])).is_err());
        assert!(
            anthropic_prices(&json!({"gpt": {"litellm_provider": "openai"}}))
                .unwrap_err()
                .contains("no Anthropic model")
        );
        let missing = anthropic_prices(
            &json!({"claude-x": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-06}}),
        )
        .unwrap_err();
        assert!(
            missing.contains("claude-x") && missing.contains("output_cost_per_token"),
            "{missing}"
        );
        let text = anthropic_prices(&json!({"claude-x": {"litellm_provider": "anthropic", "input_cost_per_token": "1", "output_cost_per_token": 1e-06}})).unwrap_err();
        assert!(
            text.contains("input_cost_per_token is not a number"),
            "{text}"
        );
        let two_tiers = anthropic_prices(&json!({"claude-x": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06,
            "input_cost_per_token_above_200k_tokens": 2e-06, "output_cost_per_token_above_100k_tokens": 2e-06}})).unwrap_err();
        assert!(two_tiers.contains("both"), "{two_tiers}");
    }
}
