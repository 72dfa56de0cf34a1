//! Expressions: the CEL the SDKs generate (`if` of waits and cancellations, trigger
//! `expression`, concurrency keys), evaluated with the `cel` crate over JSON events.
//!
//! JSON numbers become CEL `int` when they are whole and fit, `double` otherwise, so
//! `event.data.n - 1` and `event.data.amount > 10.5` both work. A missing field makes a
//! condition false rather than an error, as the Inngest server treats a failed match.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

/// An expression that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid expression {source_text:?}: {message}")]
pub struct ExprError {
    /// The expression.
    pub source_text: String,
    /// The parser's message.
    pub message: String,
}

/// A compiled expression.
#[derive(Clone)]
pub struct Expr {
    program: Arc<cel::Program>,
    source: String,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

/// How many compiled wait conditions are kept.
const MAX_CACHED: usize = 1024;

/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// The most opening brackets (`(`, `[`, `{`) an expression may have, wherever they are. The
/// CEL parser recurses deeply per level of brackets (about 200 KiB of stack per level in a
/// debug build); an expression is parsed on a thread whose stack takes this many levels
/// ([`COMPILE_STACK`]).
pub const MAX_EXPRESSION_BRACKETS: usize = 64;

/// The stack of the thread an expression is parsed on: [`MAX_EXPRESSION_BRACKETS`] levels of
/// brackets and [`MAX_EXPRESSION_OPERATORS`] links of a chain, with room to spare. Only the
/// pages used are ever allocated.
const COMPILE_STACK: usize = 64 * 1024 * 1024;

/// The deepest expression tree accepted. Evaluation recurses once per level of the tree (about
/// 37 KiB of stack per level in a debug build, where a chain of 55 `+` overflows a 2 MiB
/// thread stack), and a chain (`a + b + c …`, `x[0][0]…`) is as deep as it is long. It is
/// checked once parsed, and evaluation runs on whatever thread matches an event.
pub const MAX_EXPRESSION_DEPTH: usize = 24;

/// Refuses a compiled expression whose evaluation could overflow the stack or run for good:
/// a tree deeper than [`MAX_EXPRESSION_DEPTH`], or a macro (`map`, `filter`, `all`,
/// `exists`, `exists_one`) inside another's body over anything but a part of the element the
/// outer one is at. `items.exists(i, i.tags.exists(t, t == "x"))` walks each tag once, but
/// `l.map(a, l.map(b, …))` walks `l` once per element, work that is the product of the
/// lists' lengths (three nested over a list of 250,000 numbers, which fits in an event, is
/// 10^16 steps). A macro chained after another (`l.filter(…).map(…)`) adds its work and is
/// allowed. The tree is walked without recursion.
///
/// Work that is quadratic within one macro (`l.exists(a, a in l)`) is not caught: the CEL
/// library has no budget, and the shape of the tree cannot tell it apart from `a in [1, 2]`.
fn check_tree(root: &cel::IdedExpr) -> Result<(), String> {
    use cel::common::ast::{EntryExpr, Expr as Node};
    // (node, its depth, the iteration variables of the innermost macro it is in the body of,
    // or `None` outside any)
    let mut stack: Vec<(&cel::IdedExpr, usize, Option<MacroVars>)> = vec![(root, 1, None)];
    while let Some((node, depth, in_macro)) = stack.pop() {
        if depth > MAX_EXPRESSION_DEPTH {
            return Err(format!(
                "the expression is more than {MAX_EXPRESSION_DEPTH} operations deep"
            ));
        }
        let next = depth + 1;
        match &node.expr {
            Node::Call(call) => {
                stack.extend(call.target.as_deref().map(|t| (t, next, in_macro)));
                stack.extend(call.args.iter().map(|a| (a, next, in_macro)));
            }
            Node::Comprehension(c) => {
                // Only the innermost enclosing macro's variables: ranging over an outer
                // one's element again (`l.exists(a, a.exists(b, a.exists(c, …)))`) would
                // multiply the work as much as ranging over the list.
                match in_macro {
                    None => {}
                    Some(vars) if ranges_over_part_of(&c.iter_range, vars) => {}
                    Some(_) => {
                        return Err("the expression runs a macro (map, filter, all, exists) \
                                    over a whole list inside another's body"
                            .into());
                    }
                };
                stack.push((&c.iter_range, next, None));
                let vars = (c.iter_var.as_str(), c.iter_var2.as_deref());
                for body in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                    stack.push((body, next, Some(vars)));
                }
            }
            Node::List(list) => stack.extend(list.elements.iter().map(|e| (e, next, in_macro))),
            Node::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(e) = &entry.expr {
                        stack.push((&e.key, next, in_macro));
                        stack.push((&e.value, next, in_macro));
                    }
                }
            }
            Node::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        stack.push((&f.value, next, in_macro));
                    }
                }
            }
            Node::Select(select) => stack.push((&select.operand, next, in_macro)),
            Node::Ident(_) | Node::Literal(_) | Node::Unspecified => {}
        }
    }
    Ok(())
}

/// A macro's iteration variables: the element's, and the second one of a two-variable macro.
type MacroVars<'a> = (&'a str, Option<&'a str>);

/// Whether `range` is a part of an enclosing macro's element: one of `vars`, followed by field
/// selections and indexes with literal keys (`i.tags`, `i["tags"][0]`).
fn ranges_over_part_of(range: &cel::IdedExpr, (var, var2): MacroVars<'_>) -> bool {
    use cel::common::ast::Expr as Node;
    let mut at = range;
    loop {
        match &at.expr {
            Node::Ident(name) => return name == var || var2 == Some(name.as_str()),
            Node::Select(select) if !select.test => at = &select.operand,
            Node::Call(call)
                if call.func_name == cel::common::ast::operators::INDEX
                    && call.args.len() == 2
                    && matches!(call.args[1].expr, Node::Literal(_)) =>
            {
                at = &call.args[0];
            }
            _ => return false,
        }
    }
}

/// The most operator characters (`.`, `[`, `+`, `&`, `=`, …) and `in` keywords an expression
/// may have, wherever they are. The parser recurses once per link of a chain (`a.b.c…`,
/// `x[0][0]…`, `1 + 1 + …`, `1 in 1 in …`), and every link has an operator, so the count is
/// never below the links.
pub const MAX_EXPRESSION_OPERATORS: usize = 400;

/// Refuses what the parser cannot take safely: too long, or too many brackets or operators.
/// The counts take the whole text, string literals included: a scanner that skipped literals
/// could be fooled by one (a raw string ending in a backslash, an unterminated triple quote)
/// into skipping what the parser reads. Literals full of brackets or operators are refused
/// with the rest, which no ordinary expression comes near.
fn check_bounds(source: &str) -> Result<(), String> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "the expression is {} bytes long; at most {MAX_EXPRESSION_LEN} are allowed",
            source.len()
        ));
    }
    let bytes = source.as_bytes();
    let brackets = bytes.iter().filter(|b| b"([{".contains(b)).count();
    if brackets > MAX_EXPRESSION_BRACKETS {
        return Err(format!(
            "the expression has more than {MAX_EXPRESSION_BRACKETS} brackets"
        ));
    }
    let symbols = bytes
        .iter()
        .filter(|b| b".[+-*/%<>=!&|?".contains(b))
        .count();
    // `in` as a word of its own: not inside `int` or `contains`.
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ins = (0..bytes.len().saturating_sub(1))
        .filter(|&i| &bytes[i..i + 2] == b"in")
        .filter(|&i| i == 0 || !word(bytes[i - 1]))
        .filter(|&i| bytes.get(i + 2).is_none_or(|&b| !word(b)))
        .count();
    if symbols.saturating_add(ins) > MAX_EXPRESSION_OPERATORS {
        return Err(format!(
            "the expression has more than {MAX_EXPRESSION_OPERATORS} operators"
        ));
    }
    Ok(())
}

/// Parses `source` on a thread with a stack of [`COMPILE_STACK`]: within the bounds
/// [`check_bounds`] sets, the parser's recursion fits there, whatever thread compiles.
fn parse(source: &str) -> Result<cel::Program, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("cel-parse".into())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(scope, || {
                cel::Program::compile(source).map_err(|e| e.to_string())
            })
            .map_err(|e| format!("the expression could not be parsed: {e}"))?
            .join()
            .map_err(|_| "the expression's parser failed".to_string())?
    })
}

impl Expr {
    /// Compiles a CEL expression.
    ///
    /// # Errors
    ///
    /// An expression that does not parse, or is longer than [`MAX_EXPRESSION_LEN`], has more
    /// than [`MAX_EXPRESSION_BRACKETS`] brackets or [`MAX_EXPRESSION_OPERATORS`] operators, is
    /// more than [`MAX_EXPRESSION_DEPTH`] operations deep, or runs a macro over a whole list
    /// inside another's body.
    pub fn compile(source: &str) -> Result<Self, ExprError> {
        // An expression refused for its size is quoted in part.
        let refused = |message| ExprError {
            source_text: source.chars().take(120).collect(),
            message,
        };
        check_bounds(source).map_err(refused)?;
        let program = parse(source).map_err(|message| ExprError {
            source_text: source.to_string(),
            message,
        })?;
        check_tree(program.expression()).map_err(refused)?;
        Ok(Self {
            program: Arc::new(program),
            source: source.to_string(),
        })
    }

    fn eval(&self, vars: &[(&str, &Value)]) -> Option<cel::Value> {
        let mut ctx = cel::Context::default();
        for (name, value) in vars {
            ctx.add_variable_from_value(*name, to_cel(value));
        }
        match self.program.execute(&ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(expression = %self.source, error = %e, "expression did not evaluate");
                None
            }
        }
    }

    /// Whether the expression is `true` for these variables (an error counts as false).
    pub fn matches(&self, vars: &[(&str, &Value)]) -> bool {
        matches!(self.eval(vars), Some(cel::Value::Bool(true)))
    }

    /// The expression's value as a key string (concurrency keys), if it evaluates.
    pub fn key(&self, vars: &[(&str, &Value)]) -> Option<String> {
        Some(match self.eval(vars)? {
            cel::Value::String(s) => s.to_string(),
            cel::Value::Int(i) => i.to_string(),
            cel::Value::UInt(u) => u.to_string(),
            cel::Value::Float(f) => f.to_string(),
            cel::Value::Bool(b) => b.to_string(),
            cel::Value::Null => "null".to_string(),
            other => format!("{other:?}"),
        })
    }
}

/// Compiled expressions by source text, so an expression met on every event (a wait's `if`)
/// is parsed once.
#[derive(Debug, Default)]
pub struct ExprCache {
    compiled: HashMap<String, Result<Expr, ExprError>>,
}

impl ExprCache {
    /// The compiled form of `source`, compiling it on first use.
    pub fn get(&mut self, source: &str) -> &Result<Expr, ExprError> {
        // Wait conditions come from apps: keep the cache bounded however many they send.
        if self.compiled.len() >= MAX_CACHED && !self.compiled.contains_key(source) {
            self.compiled.clear();
        }
        self.compiled
            .entry(source.to_string())
            .or_insert_with(|| Expr::compile(source))
    }
}

/// JSON to a CEL value.
fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => match n.as_u64() {
                Some(u) => cel::Value::UInt(u),
                None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let map: HashMap<String, cel::Value> =
                map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            cel::Value::from(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(src: &str, event: Value, candidate: Value) -> bool {
        Expr::compile(src)
            .expect("compiles")
            .matches(&[("event", &event), ("async", &candidate)])
    }

    /// Chains as deep as evaluation can take on a 2 MiB stack are refused when compiled
    /// (a chain of 55 `+` overflowed such a stack in a debug build, aborting the process);
    /// the deepest accepted ones evaluate on such a stack.
    #[test]
    fn chains_too_deep_to_evaluate_are_refused() {
        let plus = |n: usize| std::iter::repeat_n("1", n).collect::<Vec<_>>().join(" + ");
        for too_deep in [
            format!("{} == 1", plus(60)),
            format!("event{} == 1", "[0]".repeat(60)),
            format!("{} == 1", plus(MAX_EXPRESSION_DEPTH + 1)),
        ] {
            let err = Expr::compile(&too_deep).expect_err("refused");
            assert!(err.message.contains("operations deep"), "{err}");
        }
        // The deepest accepted chain (the comparison is one level, the sum the others).
        let deepest = format!(
            "{} == {}",
            plus(MAX_EXPRESSION_DEPTH - 1),
            MAX_EXPRESSION_DEPTH - 1
        );
        let matched = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || check(&deepest, json!({}), json!({})))
            .expect("a thread")
            .join()
            .expect("evaluated without overflowing");
        assert!(matched);
    }

    /// The longest chain the length limit lets through is refused before it is parsed (a debug
    /// build's parser recurses per link, and 2,000 links overflow a 2 MiB stack); the longest
    /// the operator limit lets through parses on such a stack, and is refused by its depth.
    #[test]
    fn the_longest_chains_are_refused_without_overflowing() {
        let terms = MAX_EXPRESSION_LEN / 2;
        let chain = std::iter::repeat_n("1", terms)
            .collect::<Vec<_>>()
            .join("+");
        assert!(chain.len() <= MAX_EXPRESSION_LEN);
        let compile_on_2_mib = |src: String| {
            std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || Expr::compile(&src).map(|_| ()).map_err(|e| e.message))
                .expect("a thread")
                .join()
                .expect("no overflow")
        };
        let refused = compile_on_2_mib(chain);
        assert!(
            refused.as_ref().is_err_and(|m| m.contains("operators")),
            "{refused:?}"
        );
        let most = std::iter::repeat_n("1", MAX_EXPRESSION_OPERATORS + 1)
            .collect::<Vec<_>>()
            .join("+");
        let refused = compile_on_2_mib(most);
        assert!(
            refused
                .as_ref()
                .is_err_and(|m| m.contains("operations deep")),
            "{refused:?}"
        );
        let path = format!("event{}", ".a".repeat(MAX_EXPRESSION_OPERATORS));
        assert!(
            compile_on_2_mib(path).is_err(),
            "400 links are 400 levels deep"
        );
        // `in` is an operator too: 5 bytes a link.
        let ins = format!("{}1", "1 in ".repeat(MAX_EXPRESSION_LEN / 6));
        let refused = compile_on_2_mib(ins);
        assert!(
            refused.as_ref().is_err_and(|m| m.contains("operators")),
            "{refused:?}"
        );
    }

    /// String literals hide nothing from the limits: a raw string ending in a backslash, or a
    /// triple quote, does not make what follows it uncounted; and what is inside a literal
    /// counts as well.
    #[test]
    fn string_literals_hide_nothing() {
        let chain = std::iter::repeat_n("1", 1000).collect::<Vec<_>>().join("+");
        for prefix in [
            r#"r"\" == "" || "#,
            r#"""" " """ == "" || "#,
            r#"r'\' == '' || "#,
            r#""\"" == "" || "#,
        ] {
            let src = format!("{prefix}{chain} > 0");
            let err = Expr::compile(&src).expect_err("refused");
            assert!(err.message.contains("operators"), "{prefix}: {err}");
        }
        let brackets = format!(r#"r"\" == "" || {}true{}"#, "(".repeat(70), ")".repeat(70));
        let err = Expr::compile(&brackets).expect_err("refused");
        assert!(err.message.contains("brackets"), "{err}");
        let inside = format!(r#"event.data.s == "{}""#, "+".repeat(500));
        assert!(Expr::compile(&inside).is_err());
        // What ordinary expressions have in their literals is far below the limits.
        let url = r#"event.data.url == "https://example.com/a/b?c=d&e=f(g)[h]""#;
        assert!(!check(url, json!({"data": {"url": "x"}}), json!({})));
        // Deep brackets within the limit parse, on the parser's own thread.
        let deep = format!("{}true{}", "(".repeat(60), ")".repeat(60));
        assert!(check(&deep, json!({}), json!({})));
    }

    /// A macro over a whole list inside another's body multiplies their work and is refused;
    /// one over a part of the outer element, or chained after another, is not.
    #[test]
    fn macros_inside_macros_are_refused() {
        let nested = "event.data.l.map(a, event.data.l.map(b, event.data.l.map(c, 0))).size() > 0";
        let err = Expr::compile(nested).expect_err("refused");
        assert!(err.message.contains("inside another"), "{err}");
        let in_condition = "event.data.l.exists(a, event.data.l.all(b, b > a))";
        assert!(Expr::compile(in_condition).is_err());
        // Over a part of the outer element: each inner item is walked once.
        let over_part = r#"event.data.items.exists(i, i.tags.exists(t, t == "x"))"#;
        let items = json!({"data": {"items": [{"tags": ["a"]}, {"tags": ["b", "x"]}]}});
        assert!(check(over_part, items.clone(), json!({})));
        let indexed = r#"event.data.items.all(i, i["tags"].exists(t, t != ""))"#;
        assert!(check(indexed, items, json!({})));
        // Ranging over an outer macro's element again, from deeper in, multiplies the work.
        let again = "event.data.l.exists(a, a.exists(b, a.exists(c, false)))";
        assert!(Expr::compile(again).is_err());
        let chained = "event.data.l.filter(x, x > 1).map(y, y * 2).size() == 2";
        assert!(check(chained, json!({"data": {"l": [1, 2, 3]}}), json!({})));
    }

    #[test]
    fn expressions_compile_or_say_why_not() {
        let e = Expr::compile("event.data.orderId == async.data.orderId").expect("compiles");
        let order = json!({"data": {"orderId": "o_9"}});
        assert!(e.matches(&[("event", &order), ("async", &order)]));
        let bad = Expr::compile("event.data.(").expect_err("does not compile");
        assert_eq!(bad.source_text, "event.data.(");
        assert!(!bad.message.is_empty());
    }

    /// Brackets past the limit are refused before parsing; up to it, they parse (on the
    /// parser's own thread) whatever the thread that compiles.
    #[test]
    fn expressions_with_too_many_brackets_or_too_long_are_refused_not_a_stack_overflow() {
        for deep in [
            format!("{}true{}", "(".repeat(65), ")".repeat(65)),
            format!("{}1{}", "[".repeat(80), "]".repeat(80)),
            format!("{}{}", "size(".repeat(70), ")".repeat(70)),
        ] {
            let e = Expr::compile(&deep).err().map(|e| e.message);
            assert_eq!(
                e.as_deref(),
                Some("the expression has more than 64 brackets"),
                "{deep}"
            );
        }
        for at_the_limit in [
            format!("{}true{}", "(".repeat(64), ")".repeat(64)),
            format!("{}[1]{}", "[".repeat(63), "]".repeat(63)),
            format!("{}1{}", "size(".repeat(64), ")".repeat(64)),
            format!("{}1{} == {}", "(".repeat(64), " + 1)".repeat(64), "1"),
        ] {
            // Parsed, on a 2 MiB thread, without overflowing (size() of an int does not
            // evaluate: only the parse matters here).
            std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || {
                    let _ = Expr::compile(&at_the_limit);
                })
                .expect("a thread")
                .join()
                .expect("no overflow");
        }
        let long = vec!["1 == 1"; 1000].join(" && ");
        assert!(Expr::compile(&long).is_err_and(|e| e.message.contains("bytes long")));
    }

    #[test]
    fn the_operators_sdks_generate() {
        let e = json!({"name": "a/b", "data": {"id": "x", "n": 3, "vip": true, "tags": ["t"]}});
        let a = json!({"name": "c/d", "data": {"id": "x", "n": 4.5}});
        assert!(check(
            "event.data.id == async.data.id",
            e.clone(),
            a.clone()
        ));
        assert!(!check(
            "event.data.id != async.data.id",
            e.clone(),
            a.clone()
        ));
        assert!(check(
            "event.data.n < async.data.n && event.data.vip",
            e.clone(),
            a.clone()
        ));
        assert!(check(
            "event.data.n > 5 || event.data.vip",
            e.clone(),
            a.clone()
        ));
        assert!(check("event.data.n - 1 == 2", e.clone(), a.clone()));
        assert!(check(
            "event.data.n >= 3 && event.data.n <= 3",
            e.clone(),
            a.clone()
        ));
        assert!(check("event.name == 'a/b'", e.clone(), a.clone()));
        assert!(check("'t' in event.data.tags", e.clone(), a.clone()));
        assert!(check("!(event.data.n == 4)", e.clone(), a.clone()));
        // A missing field is a non-match, not an error.
        assert!(!check("event.data.missing == 1", e.clone(), a));
        let key = Expr::compile("event.data.id").expect("compiles");
        assert_eq!(key.key(&[("event", &e)]).as_deref(), Some("x"));
    }
}
