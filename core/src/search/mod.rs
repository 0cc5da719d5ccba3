//! Technical-content search: tokenizer, query parser, highlighter and BM25 ranking.
