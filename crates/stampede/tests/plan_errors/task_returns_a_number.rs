// A task that returns something a run cannot judge: `()` or a result, nothing else.
use stampede::prelude::*;

struct Visitor {
    client: Client,
}

impl Visitor {
    async fn home(&mut self) -> u32 {
        7
    }
}

fn main() -> ExitCode {
    let visitor = UserType::new("Visitor", |ctx| Visitor { client: ctx.client() });
    stampede::main(Plan::new().user_type(visitor.task(task!(Visitor::home))))
}
