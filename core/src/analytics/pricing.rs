//! Model prices: which price applies to a model's response on a day, and what the response costs.
//!
//! Matching never guesses. A price applies to a model when its id is the model's id, or the
//! model's id without a release-date suffix (`claude-opus-4-7` prices `claude-opus-4-7-20260416`);
//! an exact id wins over the date-stripped one. A sibling (`claude-opus-4` for
//! `claude-opus-4-6`) or an older version never prices a model: a model without a price of its
//! own is unpriced, and its cost is None. `<synthetic>` (lines Claude Code writes itself) is never
//! priced. Among the prices that apply, the latest one not after the response's day wins, then an
//! operator's over an imported one over a seeded one (an operator's price for `claude-opus-4-7`
//! outranks the seeded one for `claude-opus-4-7-20260416`), then the exact id.

use std::collections::HashMap;

/// The model Claude Code writes on lines it makes up itself (interruptions, errors): no API call,
/// never priced.
pub const SYNTHETIC_MODEL: &str = "<synthetic>";

/// USD per million tokens of each kind a response is billed for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    /// Prompt-cache writes kept 5 minutes.
    pub cache_write_5m: f64,
    /// Prompt-cache writes kept 1 hour.
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

/// Long-context pricing: a response whose prompt (input, cache writes and cache reads together)
/// is over `above_tokens` is billed entirely at `rates`, its output included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongContext {
    pub above_tokens: i64,
    pub rates: Rates,
}

/// Where a price comes from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum PriceSource {
    /// An operator's own row.
    #[default]
    Operator,
    /// Loaded by cco.import_prices.
    Imported,
    /// Installed with cco.
    Seeded,
}

/// One row of the price list.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// The model id it prices (with or without a date suffix; see the module documentation).
    pub model: String,
    /// The first day it applies, in days since any fixed epoch (the caller's days).
    pub effective_from_day: i32,
    pub source: PriceSource,
    pub rates: Rates,
    pub long_context: Option<LongContext>,
    /// USD per web search request; None when the price list has none (such responses are then
    /// unpriced rather than priced at zero).
    pub web_search_per_request: Option<f64>,
    /// USD per web fetch request (Anthropic bills only the fetched content's tokens: 0).
    pub web_fetch_per_request: f64,
    /// What fast mode multiplies the token cost by; None when the model has no fast price
    /// (fast responses are then unpriced).
    pub fast_multiplier: Option<f64>,
}

/// How fast the response was generated (`usage.speed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Speed {
    #[default]
    Standard,
    Fast,
    /// A speed the price data has no price for.
    Other,
}

impl Speed {
    /// The speed a transcript names ("standard", "fast"); absent means standard.
    pub fn from_label(label: Option<&str>) -> Speed {
        match label {
            None | Some("standard") => Speed::Standard,
            Some("fast") => Speed::Fast,
            Some(_) => Speed::Other,
        }
    }
}

/// Whether a transcript's `usage.service_tier` is the one prices are for: "standard", or absent.
pub fn is_standard_service_tier(label: Option<&str>) -> bool {
    matches!(label, None | Some("standard"))
}

/// Everything a response is billed for, counted once per API response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_write_5m_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub cache_read_tokens: i64,
    pub web_search_requests: i64,
    pub web_fetch_requests: i64,
    pub speed: Speed,
    /// `usage.service_tier` was "standard" or absent. Other tiers (priority, batch) have no price in
    /// the price data, so such responses are unpriced.
    pub standard_service: bool,
}

impl ResponseUsage {
    /// Tokens of the prompt: what long-context pricing is decided by.
    pub fn prompt_tokens(&self) -> i64 {
        self.input_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
    }
}

impl Price {
    /// Whether this price is the one of `model` (its id, or its id without a date suffix) on `day`.
    pub fn applies_to(&self, model: &str, day: i32) -> bool {
        self.effective_from_day <= day && model_matches(&self.model, model)
    }

    /// The cost in USD of a response at this price; None when the response has a dimension this
    /// price does not cover (fast mode without a fast price, web searches without a search price,
    /// a service tier other than standard).
    pub fn cost(&self, usage: &ResponseUsage) -> Option<f64> {
        if !usage.standard_service {
            return None;
        }
        let multiplier = match usage.speed {
            Speed::Standard => 1.0,
            Speed::Fast => self.fast_multiplier?,
            Speed::Other => return None,
        };
        let rates = match self.long_context {
            Some(long) if usage.prompt_tokens() > long.above_tokens => long.rates,
            _ => self.rates,
        };
        let tokens = usage.input_tokens as f64 * rates.input
            + usage.output_tokens as f64 * rates.output
            + usage.cache_write_5m_tokens as f64 * rates.cache_write_5m
            + usage.cache_write_1h_tokens as f64 * rates.cache_write_1h
            + usage.cache_read_tokens as f64 * rates.cache_read;
        let searches = match usage.web_search_requests {
            0 => 0.0,
            requests => requests as f64 * self.web_search_per_request?,
        };
        let fetches = usage.web_fetch_requests as f64 * self.web_fetch_per_request;
        Some(tokens / 1_000_000.0 * multiplier + searches + fetches)
    }
}

/// `model` without its release-date suffix (`-YYYYMMDD`), if it has one.
pub fn without_date_suffix(model: &str) -> Option<&str> {
    let (base, suffix) = model.rsplit_once('-')?;
    (!base.is_empty() && suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_digit()))
        .then_some(base)
}

/// Whether a price for `price_model` prices `model`: the same id, or the model's id without its
/// date suffix. `<synthetic>` matches nothing.
pub fn model_matches(price_model: &str, model: &str) -> bool {
    model != SYNTHETIC_MODEL
        && (price_model == model || without_date_suffix(model) == Some(price_model))
}

/// The price list, in any order.
#[derive(Debug, Clone, Default)]
pub struct PriceList {
    prices: Vec<Price>,
}

impl PriceList {
    pub fn new(prices: Vec<Price>) -> PriceList {
        PriceList { prices }
    }

    /// The price of `model` on `day`, if any applies (see the module documentation for which).
    pub fn find(&self, model: &str, day: i32) -> Option<&Price> {
        self.position(model, day).map(|index| &self.prices[index])
    }

    fn position(&self, model: &str, day: i32) -> Option<usize> {
        self.prices
            .iter()
            .enumerate()
            .filter(|(_, price)| price.applies_to(model, day))
            .min_by_key(|(_, price)| {
                (
                    std::cmp::Reverse(price.effective_from_day),
                    price.source,
                    price.model != model,
                )
            })
            .map(|(index, _)| index)
    }

    /// A lookup that remembers each model and day it has priced: usage comes in runs of a few
    /// models over a few days, so the list is searched once per pair, not once per response.
    pub fn cached(self) -> PriceCache {
        PriceCache {
            list: self,
            found: HashMap::new(),
        }
    }
}

/// See [`PriceList::cached`].
#[derive(Debug, Clone, Default)]
pub struct PriceCache {
    list: PriceList,
    /// Where in the list each model's price on each day is, by model then day (looked up by
    /// `&str`, so a hit allocates nothing).
    found: HashMap<String, HashMap<i32, Option<usize>>>,
}

impl PriceCache {
    pub fn find(&mut self, model: &str, day: i32) -> Option<&Price> {
        let index = match self.found.get(model).and_then(|days| days.get(&day)) {
            Some(index) => *index,
            None => {
                let index = self.list.position(model, day);
                self.found
                    .entry(model.to_owned())
                    .or_default()
                    .insert(day, index);
                index
            }
        };
        index.map(|index| &self.list.prices[index])
    }

    /// The cost of a response of `model` on `day`; None when no price applies or the price does
    /// not cover the response (see [`Price::cost`]).
    pub fn cost(&mut self, model: &str, day: i32, usage: &ResponseUsage) -> Option<f64> {
        self.find(model, day).and_then(|price| price.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rates(input: f64) -> Rates {
        Rates {
            input,
            output: input * 5.0,
            cache_write_5m: input * 1.25,
            cache_write_1h: input * 2.0,
            cache_read: input / 10.0,
        }
    }

    fn price(model: &str, from: i32, input: f64) -> Price {
        Price {
            model: model.into(),
            effective_from_day: from,
            source: PriceSource::Seeded,
            rates: rates(input),
            long_context: None,
            web_search_per_request: Some(0.01),
            web_fetch_per_request: 0.0,
            fast_multiplier: None,
        }
    }

    fn usage(input: i64, output: i64) -> ResponseUsage {
        ResponseUsage {
            input_tokens: input,
            output_tokens: output,
            standard_service: true,
            ..ResponseUsage::default()
        }
    }

    fn list() -> PriceList {
        PriceList::new(vec![
            price("claude-opus-4-6-20260205", 300, 7.0),
            price("claude-opus-4-6", 200, 5.0),
            price("claude-opus-4", 100, 15.0),
            price("claude-opus-4-6", 100, 6.0),
        ])
    }

    #[test]
    fn an_exact_id_wins_then_the_date_stripped_id() {
        let list = list();
        let input = |model: &str, day: i32| list.find(model, day).map(|p| p.rates.input);
        assert_eq!(input("claude-opus-4-6-20260205", 300), Some(7.0));
        assert_eq!(input("claude-opus-4-6-20260205", 250), Some(5.0));
        assert_eq!(input("claude-opus-4-6-20260205", 150), Some(6.0));
        assert_eq!(input("claude-opus-4-6", 250), Some(5.0));
        assert_eq!(input("claude-opus-4-20250514", 150), Some(15.0));
        assert_eq!(input("claude-opus-4-6-20260205", 50), None);
    }

    #[test]
    fn an_operators_price_outranks_an_imported_one_outranks_a_seeded_one() {
        let with = |model: &str, source: PriceSource, input: f64| Price {
            source,
            ..price(model, 0, input)
        };
        let mut prices = vec![
            with("claude-opus-4-7-20260416", PriceSource::Seeded, 1.0),
            with("claude-opus-4-7", PriceSource::Seeded, 2.0),
        ];
        let input = |prices: &Vec<Price>| {
            PriceList::new(prices.clone())
                .find("claude-opus-4-7-20260416", 10)
                .map(|p| p.rates.input)
        };
        assert_eq!(input(&prices), Some(1.0));
        prices.push(with("claude-opus-4-7", PriceSource::Imported, 3.0));
        assert_eq!(input(&prices), Some(3.0));
        prices.push(with("claude-opus-4-7", PriceSource::Operator, 4.0));
        assert_eq!(input(&prices), Some(4.0));
        // A later price outranks every earlier one.
        prices.push(Price {
            effective_from_day: 5,
            ..with("claude-opus-4-7-20260416", PriceSource::Seeded, 5.0)
        });
        assert_eq!(input(&prices), Some(5.0));
    }

    #[test]
    fn a_sibling_or_an_older_version_never_prices_a_model() {
        let list = list();
        // The prefix rule of 0.4.0 priced these at claude-opus-4's 15 USD.
        assert_eq!(list.find("claude-opus-4-7-20260416", 400), None);
        assert_eq!(list.find("claude-opus-4-7", 400), None);
        assert_eq!(list.find("claude-opus-4-6-fast", 400), None);
        assert_eq!(list.find("claude-opus-4-60", 400), None);
        assert_eq!(list.find(SYNTHETIC_MODEL, 400), None);
        assert_eq!(without_date_suffix("claude-opus-4-6-2026020"), None);
        assert_eq!(without_date_suffix("-20260205"), None);
        assert_eq!(
            without_date_suffix("claude-opus-4-6-20260205"),
            Some("claude-opus-4-6")
        );
    }

    #[test]
    fn cost_of_every_dimension_by_hand() {
        // Prices of claude-opus-4-6 per million: input 5, output 25, 5-minute writes 6.25,
        // 1-hour writes 10, reads 0.5; web search 0.01 per request.
        let opus = price("claude-opus-4-6", 0, 5.0);
        let cost = |usage: ResponseUsage| opus.cost(&usage).unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
        close(cost(usage(1_000_000, 0)), 5.0);
        close(cost(usage(0, 1_000_000)), 25.0);
        close(
            cost(ResponseUsage {
                cache_write_5m_tokens: 1_000_000,
                ..usage(0, 0)
            }),
            6.25,
        );
        close(
            cost(ResponseUsage {
                cache_write_1h_tokens: 1_000_000,
                ..usage(0, 0)
            }),
            10.0,
        );
        close(
            cost(ResponseUsage {
                cache_read_tokens: 1_000_000,
                ..usage(0, 0)
            }),
            0.5,
        );
        close(
            cost(ResponseUsage {
                web_search_requests: 3,
                ..usage(0, 0)
            }),
            0.03,
        );
        close(
            cost(ResponseUsage {
                web_fetch_requests: 3,
                ..usage(0, 0)
            }),
            0.0,
        );
        // All of them at once: 1234 x 5 + 567 x 25 + 8910 x 6.25 + 1112 x 10 + 131415 x 0.5,
        // per million, plus two searches.
        let all = ResponseUsage {
            input_tokens: 1234,
            output_tokens: 567,
            cache_write_5m_tokens: 8910,
            cache_write_1h_tokens: 1112,
            cache_read_tokens: 131_415,
            web_search_requests: 2,
            web_fetch_requests: 1,
            speed: Speed::Standard,
            standard_service: true,
        };
        close(
            cost(all),
            (6170.0 + 14175.0 + 55687.5 + 11120.0 + 65707.5) / 1e6 + 0.02,
        );
    }

    #[test]
    fn fast_mode_multiplies_the_tokens_where_the_model_has_a_fast_price() {
        let mut opus = price("claude-opus-5", 0, 5.0);
        let fast = ResponseUsage {
            speed: Speed::Fast,
            web_search_requests: 1,
            ..usage(1_000_000, 1_000_000)
        };
        assert_eq!(opus.cost(&fast), None);
        opus.fast_multiplier = Some(2.0);
        assert!((opus.cost(&fast).unwrap() - (60.0 + 0.01)).abs() < 1e-12);
    }

    #[test]
    fn transcript_labels_name_speeds_and_tiers() {
        assert_eq!(
            [None, Some("standard"), Some("fast"), Some("turbo")].map(Speed::from_label),
            [Speed::Standard, Speed::Standard, Speed::Fast, Speed::Other]
        );
        assert_eq!(
            [None, Some("standard"), Some("priority"), Some("batch")].map(is_standard_service_tier),
            [true, true, false, false]
        );
        let opus = price("claude-opus-5", 0, 5.0);
        assert_eq!(
            opus.cost(&ResponseUsage {
                speed: Speed::Other,
                ..usage(1, 1)
            }),
            None
        );
    }

    #[test]
    fn a_long_prompt_bills_the_whole_response_at_the_long_context_rates() {
        let mut haiku = price("claude-haiku-5-5", 0, 0.1);
        haiku.long_context = Some(LongContext {
            above_tokens: 100_000,
            rates: rates(0.5),
        });
        let at_threshold = ResponseUsage {
            cache_read_tokens: 50_000,
            ..usage(50_000, 1_000)
        };
        assert!(
            (haiku.cost(&at_threshold).unwrap()
                - (50_000.0 * 0.1 + 1_000.0 * 0.5 + 50_000.0 * 0.01) / 1e6)
                .abs()
                < 1e-15
        );
        let over = ResponseUsage {
            cache_read_tokens: 50_001,
            ..at_threshold
        };
        assert!(
            (haiku.cost(&over).unwrap() - (50_000.0 * 0.5 + 1_000.0 * 2.5 + 50_001.0 * 0.05) / 1e6)
                .abs()
                < 1e-15
        );
    }

    #[test]
    fn unpriced_dimensions_make_the_response_unpriced() {
        let mut opus = price("claude-opus-4-6", 0, 5.0);
        assert_eq!(
            opus.cost(&ResponseUsage {
                standard_service: false,
                ..usage(1, 1)
            }),
            None
        );
        opus.web_search_per_request = None;
        assert_eq!(
            opus.cost(&ResponseUsage {
                web_search_requests: 1,
                ..usage(1, 1)
            }),
            None
        );
        assert!(opus.cost(&usage(1, 1)).is_some());
    }

    #[test]
    fn the_cache_answers_as_the_list_does() {
        let list = list();
        let mut cached = list.clone().cached();
        for day in [-5, 99, 100, 150, 199, 200, 299, 300, 301] {
            for model in [
                "claude-opus-4-6-20260205",
                "claude-opus-4-6",
                "claude-opus-4-7",
                "claude-opus-4-20250514",
                "other",
            ] {
                for _ in 0..2 {
                    assert_eq!(
                        cached.find(model, day),
                        list.find(model, day),
                        "{model} on {day}"
                    );
                }
            }
        }
        assert_eq!(cached.cost("other", 300, &usage(1, 1)), None);
        assert!(
            (cached
                .cost("claude-opus-4-20250514", 100, &usage(1_000_000, 0))
                .unwrap()
                - 15.0)
                .abs()
                < 1e-12
        );
    }

    fn model_id() -> impl Strategy<Value = String> {
        let family = prop::sample::select(vec![
            "claude-opus",
            "claude-sonnet",
            "claude-haiku",
            "claude",
            "gpt",
        ]);
        let version = prop::collection::vec(0u8..10, 0..3);
        let date = prop::option::of(prop::sample::select(vec![
            "20250514", "20260205", "20260416", "2026041",
        ]));
        (family, version, date).prop_map(|(family, version, date)| {
            let mut id = family.to_owned();
            for part in version {
                id.push_str(&format!("-{part}"));
            }
            if let Some(date) = date {
                id.push_str(&format!("-{date}"));
            }
            id
        })
    }

    proptest! {
        /// No model ever gets a price whose id is not its own or its own without the date suffix.
        #[test]
        fn a_model_is_priced_only_by_its_own_id(
            priced in prop::collection::vec((model_id(), 0i32..100, prop::sample::select(vec![PriceSource::Operator, PriceSource::Imported, PriceSource::Seeded])), 0..30),
            model in model_id(),
            day in 0i32..100,
        ) {
            let prices: Vec<Price> = priced.iter().map(|(id, from, source)| Price { source: *source, ..price(id, *from, 1.0) }).collect();
            let list = PriceList::new(prices.clone());
            match list.find(&model, day) {
                Some(found) => {
                    prop_assert!(found.model == model || Some(found.model.as_str()) == without_date_suffix(&model));
                    prop_assert!(found.effective_from_day <= day);
                    // No applicable price outranks it.
                    let rank = |p: &Price| (std::cmp::Reverse(p.effective_from_day), p.source, p.model != model);
                    prop_assert!(prices.iter().filter(|p| p.applies_to(&model, day)).all(|p| rank(found) <= rank(p)));
                }
                None => prop_assert!(!prices.iter().any(|p| p.applies_to(&model, day))),
            }
        }
    }
}
