//! Model prices: which price applies to a model's usage on a day, and what the usage costs.
//!
//! The rule is the one `cco.usage_cost` applies in SQL: among the prices whose model is a prefix
//! of the usage's model and whose effective date is not after the usage's day, the longest model
//! wins, then the latest date, then an operator's price over a seeded one. A [`PriceList`] is
//! given its prices already in that order (SQL sorts them), so the first price that applies is
//! the price.

use std::collections::HashMap;

/// The four kinds of tokens, in the order prices and counts are given everywhere here: input,
/// output, cache write (creation), cache read.
pub type TokenCounts = [i64; 4];

/// One row of the price list.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// Applies to every model whose name starts with this.
    pub model_prefix: String,
    /// The first day it applies, in days since any fixed epoch (the caller's days).
    pub effective_from_day: i32,
    /// USD per million tokens of each kind (see [`TokenCounts`]).
    pub per_million: [f64; 4],
}

impl Price {
    pub fn applies_to(&self, model: &str, day: i32) -> bool {
        model.starts_with(self.model_prefix.as_str()) && self.effective_from_day <= day
    }

    /// The cost in USD of these token counts at this price.
    pub fn cost(&self, tokens: TokenCounts) -> f64 {
        let weighted: f64 = tokens
            .iter()
            .zip(self.per_million)
            .map(|(&count, price)| count as f64 * price)
            .sum();
        weighted / 1_000_000.0
    }
}

/// Prices in the order they take precedence (longest model first, then latest date first, then
/// operators' before seeded ones).
#[derive(Debug, Clone, Default)]
pub struct PriceList {
    prices: Vec<Price>,
}

impl PriceList {
    pub fn new(prices_in_precedence_order: Vec<Price>) -> PriceList {
        PriceList {
            prices: prices_in_precedence_order,
        }
    }

    /// The price of `model` on `day`, if any applies.
    pub fn find(&self, model: &str, day: i32) -> Option<&Price> {
        self.prices
            .iter()
            .find(|price| price.applies_to(model, day))
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
                let index = self
                    .list
                    .prices
                    .iter()
                    .position(|price| price.applies_to(model, day));
                self.found
                    .entry(model.to_owned())
                    .or_default()
                    .insert(day, index);
                index
            }
        };
        index.map(|index| &self.list.prices[index])
    }

    /// The cost of `tokens` of `model` on `day`; None when no price applies.
    pub fn cost(&mut self, model: &str, day: i32, tokens: TokenCounts) -> Option<f64> {
        self.find(model, day).map(|price| price.cost(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(prefix: &str, from: i32, input: f64) -> Price {
        Price {
            model_prefix: prefix.into(),
            effective_from_day: from,
            per_million: [input, input * 5.0, input * 1.25, input / 10.0],
        }
    }

    /// The list as SQL orders it: longest prefix, then latest date.
    fn list() -> PriceList {
        PriceList::new(vec![
            price("claude-sonnet-4-5", 200, 3.0),
            price("claude-sonnet-4", 300, 2.0),
            price("claude-sonnet-4", 100, 4.0),
            price("claude", 0, 9.0),
        ])
    }

    #[test]
    fn the_longest_prefix_in_effective_on_the_day_wins() {
        let list = list();
        assert_eq!(
            list.find("claude-sonnet-4-5-20250929", 250)
                .map(|p| p.per_million[0]),
            Some(3.0)
        );
        // Before the 4.5 price starts, the shorter prefix applies.
        assert_eq!(
            list.find("claude-sonnet-4-5-20250929", 150)
                .map(|p| p.per_million[0]),
            Some(4.0)
        );
        assert_eq!(
            list.find("claude-sonnet-4-20250514", 350)
                .map(|p| p.per_million[0]),
            Some(2.0)
        );
        assert_eq!(
            list.find("claude-sonnet-4-20250514", 299)
                .map(|p| p.per_million[0]),
            Some(4.0)
        );
        assert_eq!(
            list.find("claude-opus-4", 10).map(|p| p.per_million[0]),
            Some(9.0)
        );
        assert_eq!(list.find("gpt", 10), None);
        assert_eq!(list.find("claude-sonnet-4", -1), None);
    }

    #[test]
    fn cost_weighs_each_kind_of_token_by_its_price() {
        let sonnet = Price {
            model_prefix: "s".into(),
            effective_from_day: 0,
            per_million: [3.0, 15.0, 3.75, 0.3],
        };
        let cost = sonnet.cost([1_000_000, 100_000, 10_000, 2_000_000]);
        assert!((cost - (3.0 + 1.5 + 0.0375 + 0.6)).abs() < 1e-12);
    }

    #[test]
    fn the_cache_answers_as_the_list_does() {
        let list = list();
        let mut cached = list.clone().cached();
        for day in [-5, 99, 100, 150, 199, 200, 299, 300, 301] {
            for model in [
                "claude-sonnet-4-5-x",
                "claude-sonnet-4",
                "claude-haiku",
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
        assert_eq!(cached.cost("other", 300, [1, 1, 1, 1]), None);
        assert_eq!(cached.cost("claude-sonnet-4", -1, [1, 1, 1, 1]), None);
        assert!((cached.cost("claude-x", 1, [1_000_000, 0, 0, 0]).unwrap() - 9.0).abs() < 1e-12);
    }
}
