#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// A project with one conversation; returns the conversation id as text.
    fn conversation() -> String {
        Spi::run("insert into cco.projects (id, name, path) values ('00000000-0000-4000-8000-000000000001', 'p', '/p')")
            .unwrap();
        Spi::get_one::<String>(
            "insert into cco.conversations (project_id) values ('00000000-0000-4000-8000-000000000001') returning id::text",
        )
        .unwrap()
        .unwrap()
    }

    fn insert(conversation: &str, id: &str, parent: Option<&str>) {
        Spi::run_with_args(
            "insert into cco.messages (id, conversation_id, role, content, parent_id) \
             values ($1::uuid, $2::uuid, 'user', 'x', $3::uuid)",
            &[id.into(), conversation.into(), parent.into()],
        )
        .unwrap();
    }

    fn depth(id: &str) -> i32 {
        Spi::get_one_with_args::<i32>(
            "select depth from cco.messages where id = $1::uuid",
            &[id.into()],
        )
        .unwrap()
        .unwrap()
    }

    const A: &str = "00000000-0000-4000-8000-00000000000a";
    const B: &str = "00000000-0000-4000-8000-00000000000b";
    const C: &str = "00000000-0000-4000-8000-00000000000c";

    #[pg_test]
    fn the_trigger_fills_project_and_depth() {
        let conversation = conversation();
        insert(&conversation, A, None);
        insert(&conversation, B, Some(A));
        insert(&conversation, C, Some(B));
        assert_eq!((depth(A), depth(B), depth(C)), (0, 1, 2));
        assert_eq!(
            Spi::get_one::<i64>("select count(*) from cco.messages where project_id = '00000000-0000-4000-8000-000000000001'")
                .unwrap(),
            Some(3)
        );
    }

    #[pg_test]
    fn rows_of_one_statement_find_parents_inserted_before_them() {
        let conversation = conversation();
        Spi::run_with_args(
            "insert into cco.messages (id, conversation_id, role, content, parent_id) \
             select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, $1::uuid, 'user', 'x', \
                    case when g > 1 then ('00000000-0000-4000-8000-' || lpad((g - 1)::text, 12, '0'))::uuid end \
             from generate_series(1, 500) g order by g",
            &[conversation.as_str().into()],
        )
        .unwrap();
        assert_eq!(
            Spi::get_one::<i32>("select max(depth) from cco.messages").unwrap(),
            Some(499)
        );
    }

    #[pg_test]
    #[should_panic(expected = "would create a cycle")]
    fn a_cycle_is_rejected() {
        let conversation = conversation();
        insert(&conversation, A, None);
        insert(&conversation, B, Some(A));
        Spi::run_with_args(
            "update cco.messages set parent_id = $1::uuid where id = $2::uuid",
            &[B.into(), A.into()],
        )
        .unwrap();
    }

    #[pg_test]
    fn rebuild_repairs_depths_and_reports_what_changed() {
        let conversation = conversation();
        insert(&conversation, A, None);
        insert(&conversation, B, Some(A));
        Spi::run("alter table cco.messages disable trigger messages_resolve_thread").unwrap();
        Spi::run("update cco.messages set depth = 9").unwrap();
        Spi::run("alter table cco.messages enable trigger messages_resolve_thread").unwrap();
        let changed = Spi::get_one_with_args::<i32>(
            "select cco.rebuild_thread_depths($1::uuid)",
            &[conversation.as_str().into()],
        )
        .unwrap();
        assert_eq!(changed, Some(2));
        assert_eq!((depth(A), depth(B)), (0, 1));
    }
}
