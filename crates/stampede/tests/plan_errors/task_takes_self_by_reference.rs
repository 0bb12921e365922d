// A task that takes `&self`: tasks change their user (its client, its cart), so they take
// `&mut self`.
use stampede::prelude::*;

struct Visitor {
    client: Client,
}

impl Visitor {
    async fn home(&self) -> TaskResult {
        Ok(())
    }
}

fn main() -> ExitCode {
    let visitor = UserType::new("Visitor", |ctx| Visitor { client: ctx.client() });
    stampede::main(Plan::new().user_type(visitor.task(task!(Visitor::home))))
}
