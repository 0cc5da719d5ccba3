#[pgrx::pg_schema]
mod tests {
    use cco_core::tsquery::{decode, TsQuery as Decoded, TsQueryNode};
    use pgrx::prelude::*;

    use crate::text_search_types::TsQuery;

    fn decoded(text: &str) -> Decoded {
        let query = Spi::get_one_with_args::<TsQuery>("select $1::tsquery", &[text.into()])
            .unwrap()
            .unwrap();
        decode(query.payload()).unwrap()
    }

    fn word(text: &str, prefix: bool, weights: u8) -> Box<TsQueryNode> {
        Box::new(TsQueryNode::Operand {
            lexeme: text.as_bytes().to_vec(),
            prefix,
            weights,
        })
    }

    #[pg_test]
    fn tsqueries_postgresql_writes_decode_as_written() {
        assert_eq!(
            decoded("error & !(retry <-> later:*)"),
            Decoded::Tree(TsQueryNode::And(
                word("error", false, 0),
                Box::new(TsQueryNode::Not(Box::new(TsQueryNode::Phrase(
                    word("retry", false, 0),
                    word("later", true, 0),
                    1
                )))),
            ))
        );
        assert_eq!(
            decoded("a <3> b:AB"),
            Decoded::Tree(TsQueryNode::Phrase(
                word("a", false, 0),
                word("b", false, 0b1100),
                3
            ))
        );
        assert_eq!(
            decoded("(x | y) & été"),
            Decoded::Tree(TsQueryNode::And(
                Box::new(TsQueryNode::Or(word("x", false, 0), word("y", false, 0))),
                word("été", false, 0)
            ))
        );
        assert_eq!(decoded(""), Decoded::Empty);
    }

    #[pg_test]
    fn the_index_ranks_like_the_operator_row_by_row() {
        Spi::run(
            "create table docs (id serial primary key, project uuid not null, body text not null,
                                v tsvector generated always as (cco.to_tsvector(body)) stored);
             create index docs_rank on docs using cco_rank (project, v);
             insert into docs (project, body)
             select (array['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'])[1 + g % 2]::uuid,
                    'handler ' || repeat('error ', g % 5) || 'line ' || g || case when g % 3 = 0 then ' getUserData timeout' else '' end
             from generate_series(1, 5000) g;
             delete from docs where id % 11 = 0;
             update docs set body = body || ' timeout' where id % 13 = 0;",
        )
        .unwrap();
        // The 40 best distances, and which rows score strictly better than the 40th (rows tied
        // with it may be cut either way).
        let ranked = "with top as (select id, v operator(cco.<&>) r as distance from docs, cco.ranking_within('docs_rank'::regclass, 'error timeout', null) r
                                   where v @@ cco.to_tsquery('error timeout')
                                   order by v operator(cco.<&>) r limit 40)
                      select string_agg(round(distance::numeric, 9)::text, ',' order by distance) || ' / ' ||
                             coalesce((select string_agg(id::text, ',' order by id) from top
                                       where distance < (select max(distance) from top)), '')
                      from top";
        let with_index = Spi::get_one::<String>(ranked).unwrap();
        Spi::run("set enable_indexscan = off; set enable_bitmapscan = off").unwrap();
        let row_by_row = Spi::get_one::<String>(ranked).unwrap();
        assert!(with_index.is_some());
        assert_eq!(with_index, row_by_row);
    }
}
