//! Mistakes a newcomer makes in a plan, and the compiler errors they get: each points at
//! the user's own line and says what was expected. trybuild compiles every file in
//! `tests/plan_errors/` and compares its errors with the `.stderr` file beside it
//! (`TRYBUILD=overwrite cargo test --test plan_errors` rewrites them after a deliberate
//! change).

#[test]
fn common_plan_mistakes_get_errors_that_point_at_the_users_line() {
    trybuild::TestCases::new().compile_fail("tests/plan_errors/*.rs");
}
