// A task written as a plain `fn`: requests are awaited, so a task is an `async fn`.
use stampede::prelude::*;

struct Visitor {
    client: Client,
}

impl Visitor {
    fn home(&mut self) -> TaskResult {
        Ok(())
    }
}

fn main() -> ExitCode {
    let visitor = UserType::new("Visitor", |ctx| Visitor { client: ctx.client() });
    stampede::main(Plan::new().user_type(visitor.task(task!(Visitor::home))))
}
