// A task of one user type given to another: each type runs its own state's tasks.
use stampede::prelude::*;

struct Visitor {
    client: Client,
}

struct Buyer {
    client: Client,
}

impl Buyer {
    async fn buy(&mut self) -> TaskResult<Response> {
        self.client.post("/checkout/").await
    }
}

fn main() -> ExitCode {
    let visitor = UserType::new("Visitor", |ctx| Visitor { client: ctx.client() });
    stampede::main(Plan::new().user_type(visitor.task(task!(Buyer::buy))))
}
