//! Funnel steps declared once: a request name with its place in the funnel, used both to
//! name requests and to declare the plan's funnel, so a typo cannot split a step in two.
//!
//! ```
//! stampede::funnel! {
//!     /// The buyer's path, in order.
//!     FUNNEL = [
//!         HOME = "1 home",
//!         CART = "2 cart",
//!     ]
//! }
//! assert_eq!(CART.position(), 2);
//! assert_eq!(FUNNEL, [HOME, CART]);
//! // client.get("/").name(HOME).await?;   Plan::new().funnel(FUNNEL)
//! ```

use std::fmt;

/// One funnel step: the request name and its position (1 for the first step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    position: u32,
    name: &'static str,
}

impl Step {
    /// Usually made by [`funnel!`](crate::funnel), which numbers the steps itself.
    pub const fn new(position: u32, name: &'static str) -> Self {
        Self { position, name }
    }
    /// The request name the step counts (what `.name(STEP)` gives a request).
    pub const fn name(&self) -> &'static str {
        self.name
    }
    /// Where the step is in the funnel, 1 for the first; the funnel checks the order.
    pub const fn position(&self) -> u32 {
        self.position
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// `.name(HOME)` on a request names it after the step.
impl From<Step> for String {
    fn from(s: Step) -> String {
        s.name.to_owned()
    }
}

impl From<&Step> for String {
    fn from(s: &Step) -> String {
        s.name.to_owned()
    }
}

/// What a request's `.name(..)` takes: a step's name is borrowed, never copied.
impl<'a> From<Step> for std::borrow::Cow<'a, str> {
    fn from(s: Step) -> Self {
        std::borrow::Cow::Borrowed(s.name)
    }
}

impl<'a> From<&Step> for std::borrow::Cow<'a, str> {
    fn from(s: &Step) -> Self {
        std::borrow::Cow::Borrowed(s.name)
    }
}

/// What [`Plan::funnel`](crate::Plan::funnel) takes: request names, or [`Step`]s whose
/// positions it checks.
pub trait FunnelName {
    /// The request name whose count the step shows.
    fn step_name(&self) -> &str;
    /// The position the step claims, if it claims one.
    fn position(&self) -> Option<u32> {
        None
    }
}

impl FunnelName for Step {
    fn step_name(&self) -> &str {
        self.name
    }
    fn position(&self) -> Option<u32> {
        Some(self.position)
    }
}

impl FunnelName for &str {
    fn step_name(&self) -> &str {
        self
    }
}

impl FunnelName for String {
    fn step_name(&self) -> &str {
        self
    }
}

/// What is wrong with a funnel: a name listed twice, or a step out of its place.
pub(crate) fn problems(steps: &[(String, Option<u32>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (name, position)) in steps.iter().enumerate() {
        if steps[..i].iter().any(|(n, _)| n == name) {
            out.push(format!("funnel step '{name}' is listed twice"));
        }
        match position {
            Some(p) if *p as usize != i + 1 => out.push(format!(
                "funnel step '{name}' says it is step {p}, but the funnel lists it as step {}",
                i + 1
            )),
            _ => {}
        }
    }
    out
}

/// Declares funnel steps as constants, numbered in order, and the funnel as an array:
///
/// ```
/// stampede::funnel! {
///     pub FUNNEL = [
///         HOME = "1 home",
///         PRODUCT = "2 /products/codemash-1/",
///     ]
/// }
/// assert_eq!(PRODUCT.name(), "2 /products/codemash-1/");
/// ```
#[macro_export]
macro_rules! funnel {
    ($(#[$all_meta:meta])* $vis:vis $all:ident = [ $(,)? ]) => {
        compile_error!("a funnel needs at least one step: `FUNNEL = [HOME = \"1 home\"]`");
    };
    (
        $(#[$all_meta:meta])*
        $vis:vis $all:ident = [ $( $(#[$meta:meta])* $step:ident = $name:literal ),+ $(,)? ]
    ) => {
        $crate::__funnel_steps!(($vis) 1u32; $( $(#[$meta])* $step = $name, )+);
        $(#[$all_meta])*
        $vis const $all: [$crate::Step; [$(stringify!($step)),+].len()] = [$($step),+];
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __funnel_steps {
    (($vis:vis) $pos:expr; $(#[$meta:meta])* $step:ident = $name:literal, $($rest:tt)*) => {
        $(#[$meta])*
        $vis const $step: $crate::Step = $crate::Step::new($pos, $name);
        $crate::__funnel_steps!(($vis) $pos + 1; $($rest)*);
    };
    (($vis:vis) $pos:expr;) => {};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misplaced_or_repeated_step_is_named() {
        let steps = vec![
            ("1 home".to_owned(), Some(1)),
            ("3 cart".to_owned(), Some(3)),
            ("1 home".to_owned(), None),
        ];
        assert_eq!(
            problems(&steps),
            [
                "funnel step '3 cart' says it is step 3, but the funnel lists it as step 2",
                "funnel step '1 home' is listed twice",
            ]
        );
        assert!(problems(&steps[..1]).is_empty());
    }

    crate::funnel! {
        STEPS = [A = "1 a", B = "2 b", C = "3 c"]
    }

    #[test]
    fn the_macro_numbers_its_steps_in_order() {
        assert_eq!(
            STEPS.map(|s| (s.position(), s.name())),
            [(1, "1 a"), (2, "2 b"), (3, "3 c")]
        );
        assert_eq!(String::from(B), "2 b");
    }
}
