use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn depth_follows_parent() {
        Spi::run("insert into cco.projects (id, name, path) values ('00000000-0000-0000-0000-000000000001', 'p', '/p')").unwrap();
        let depth = Spi::get_one::<i32>("select 1").unwrap();
        assert_eq!(depth, Some(1));
    }
}
