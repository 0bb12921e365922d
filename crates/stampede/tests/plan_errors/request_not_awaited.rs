// A request built and never sent: a request leaves only when it is awaited.
#![deny(unused_must_use)]
use stampede::prelude::*;

struct Visitor {
    client: Client,
}

impl Visitor {
    async fn home(&mut self) -> TaskResult {
        self.client.get("/");
        Ok(())
    }
}

fn main() -> ExitCode {
    let visitor = UserType::new("Visitor", |ctx| Visitor { client: ctx.client() });
    stampede::main(Plan::new().user_type(visitor.task(task!(Visitor::home))))
}
