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

/// The deepest nesting of `(`, `[` and `{` accepted. The CEL parser recurses deeply per level
/// (about 200 KiB of stack per level in a debug build), so a few levels more than any SDK or
/// person writes would overflow a thread's stack and abort the process.
pub const MAX_EXPRESSION_NESTING: usize = 8;

/// The deepest expression tree accepted. Evaluation recurses once per level of the tree (about
/// 37 KiB of stack per level in a debug build, where a chain of 55 `+` overflows a 2 MiB
/// thread stack), and a chain (`a + b + c …`, `x[0][0]…`) is as deep as it is long, with no
/// brackets for [`MAX_EXPRESSION_NESTING`] to count.
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
    // (node, its depth, the iteration variables of the macros it is in the body of, or
    // `None` outside any)
    let mut stack: Vec<(&cel::IdedExpr, usize, Option<Vec<&str>>)> = vec![(root, 1, None)];
    while let Some((node, depth, in_macro)) = stack.pop() {
        if depth > MAX_EXPRESSION_DEPTH {
            return Err(format!(
                "the expression is more than {MAX_EXPRESSION_DEPTH} operations deep"
            ));
        }
        let next = depth + 1;
        match &node.expr {
            Node::Call(call) => {
                stack.extend(call.target.as_deref().map(|t| (t, next, in_macro.clone())));
                stack.extend(call.args.iter().map(|a| (a, next, in_macro.clone())));
            }
            Node::Comprehension(c) => {
                let mut vars = match in_macro {
                    None => Vec::new(),
                    Some(vars) if ranges_over_part_of(&c.iter_range, &vars) => vars,
                    Some(_) => {
                        return Err("the expression runs a macro (map, filter, all, exists) \
                                    over a whole list inside another's body"
                            .into());
                    }
                };
                stack.push((&c.iter_range, next, None));
                vars.push(c.iter_var.as_str());
                vars.extend(c.iter_var2.as_deref());
                for body in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                    stack.push((body, next, Some(vars.clone())));
                }
            }
            Node::List(list) => {
                stack.extend(list.elements.iter().map(|e| (e, next, in_macro.clone())))
            }
            Node::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(e) = &entry.expr {
                        stack.push((&e.key, next, in_macro.clone()));
                        stack.push((&e.value, next, in_macro.clone()));
                    }
                }
            }
            Node::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        stack.push((&f.value, next, in_macro.clone()));
                    }
                }
            }
            Node::Select(select) => stack.push((&select.operand, next, in_macro)),
            Node::Ident(_) | Node::Literal(_) | Node::Unspecified => {}
        }
    }
    Ok(())
}

/// Whether `range` is a part of an enclosing macro's element: one of `vars`, followed by field
/// selections and indexes with literal keys (`i.tags`, `i["tags"][0]`).
fn ranges_over_part_of(range: &cel::IdedExpr, vars: &[&str]) -> bool {
    use cel::common::ast::Expr as Node;
    let mut at = range;
    loop {
        match &at.expr {
            Node::Ident(name) => return vars.contains(&name.as_str()),
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

/// The most operator characters (`.`, `[`, `+`, `&`, `=`, …) outside string literals. The parser
/// recurses once per link of a chain (`a.b.c…`, `x[0][0]…`, `1 + 1 + …`): in a debug build a
/// chain of about 1,300 links overflows a 2 MiB stack, and the length limit allows 2,000.
/// Each character counts, so `==` is two: the count is above the links, never below.
pub const MAX_EXPRESSION_OPERATORS: usize = 400;

/// Refuses what the parser cannot take safely: too long, nested too deep or too many operators
/// (what is inside string literals does not count).
fn check_bounds(source: &str) -> Result<(), String> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "the expression is {} bytes long; at most {MAX_EXPRESSION_LEN} are allowed",
            source.len()
        ));
    }
    let (mut depth, mut quote, mut escaped) = (0usize, None::<char>, false);
    let mut operators = 0usize;
    for c in source.chars() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_EXPRESSION_NESTING {
                    return Err(format!(
                        "the expression nests deeper than {MAX_EXPRESSION_NESTING} levels"
                    ));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if matches!(
            c,
            '.' | '[' | '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '!' | '&' | '|' | '?'
        ) {
            operators += 1;
            if operators > MAX_EXPRESSION_OPERATORS {
                return Err(format!(
                    "the expression has more than {MAX_EXPRESSION_OPERATORS} operators"
                ));
            }
        }
    }
    Ok(())
}

impl Expr {
    /// Compiles a CEL expression.
    ///
    /// # Errors
    ///
    /// An expression that does not parse, or is longer than [`MAX_EXPRESSION_LEN`], nested
    /// deeper than [`MAX_EXPRESSION_NESTING`], more than [`MAX_EXPRESSION_DEPTH`] operations
    /// deep, or runs a macro inside another's body.
    pub fn compile(source: &str) -> Result<Self, ExprError> {
        check_bounds(source).map_err(|message| ExprError {
            source_text: source.chars().take(120).collect(),
            message,
        })?;
        let program = cel::Program::compile(source).map_err(|e| ExprError {
            source_text: source.to_string(),
            message: e.to_string(),
        })?;
        check_tree(program.expression()).map_err(|message| ExprError {
            source_text: source.chars().take(120).collect(),
            message,
        })?;
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

    #[test]
    fn expressions_too_deep_or_too_long_are_refused_not_a_stack_overflow() {
        for deep in [
            format!("{}true{}", "(".repeat(12), ")".repeat(12)),
            format!("{}1{}", "[".repeat(20), "]".repeat(20)),
            format!("{}{}", "size(".repeat(40), ")".repeat(40)),
        ] {
            let e = Expr::compile(&deep).err().map(|e| e.message);
            assert_eq!(
                e.as_deref(),
                Some("the expression nests deeper than 8 levels"),
                "{deep}"
            );
        }
        let at_the_limit = format!("{}true{}", "(".repeat(8), ")".repeat(8));
        assert!(Expr::compile(&at_the_limit).is_ok());
        // Brackets inside strings do not count.
        let quoted = format!("event.data.s == \"{}\"", "(".repeat(50));
        assert!(Expr::compile(&quoted).is_ok());
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
