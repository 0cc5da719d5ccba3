#[pgrx::pg_schema]
mod tests {
    use cco_core::tsvector::{encode, TsVectorView};
    use pgrx::prelude::*;

    use crate::text_search_types::TsVector;

    #[pg_test]
    fn a_vector_built_in_rust_equals_the_one_postgresql_parses() {
        let lexemes: [(&[u8], &[u16]); 4] = [
            (b"api", &[2]),
            (b"handler", &[3, 9]),
            (b"src", &[1]),
            (b"\xc3\xa9t\xc3\xa9", &[]),
        ];
        let built = TsVector::from_payload(&encode(lexemes).unwrap());
        let text = Spi::get_one_with_args::<String>(
            "select $1::text from (select 1) one where $1 = 'api:2 handler:3,9 src:1 été'::tsvector",
            &[built.into()],
        )
        .unwrap();
        assert_eq!(text.as_deref(), Some("'api':2 'handler':3,9 'src':1 'été'"));
    }

    #[pg_test]
    fn a_stored_vector_reads_back_through_the_view() {
        Spi::run("create table t (v tsvector)").unwrap();
        Spi::run("insert into t select string_agg('word' || g || ':' || g, ' ')::tsvector from generate_series(1, 3000) g")
            .unwrap();
        let vector = Spi::get_one::<TsVector>("select v from t")
            .unwrap()
            .unwrap();
        let view = TsVectorView::new(vector.payload()).unwrap();
        assert_eq!(view.len(), 3000);
        let found = view.find(b"word1234").unwrap().unwrap();
        assert_eq!(found.positions().collect::<Vec<_>>(), vec![1234]);
        assert_eq!(view.occurrences().unwrap(), 3000);
    }
}
