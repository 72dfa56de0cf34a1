//! The Tera templates of generated files: embedded in the binary, overridable per project in
//! `.inngest/templates/<name>.tera` (as Loco and AdonisJS let projects override theirs).

use std::path::Path;

use anyhow::Context as _;

/// Every template, by name, with its embedded text.
const EMBEDDED: &[(&str, &str)] = &[
    ("inngest.rs", include_str!("../templates/inngest.rs.tera")),
    (
        "workflows_mod.rs",
        include_str!("../templates/workflows_mod.rs.tera"),
    ),
    (
        "events_mod.rs",
        include_str!("../templates/events_mod.rs.tera"),
    ),
    ("event.rs", include_str!("../templates/event.rs.tera")),
    ("workflow.rs", include_str!("../templates/workflow.rs.tera")),
    (
        "hello_workflow.rs",
        include_str!("../templates/hello_workflow.rs.tera"),
    ),
    ("main.rs", include_str!("../templates/main.rs.tera")),
    ("env.example", include_str!("../templates/env.example.tera")),
];

/// The templates for one project.
pub struct Templates {
    tera: tera::Tera,
}

impl Templates {
    /// The embedded templates, with the project's overrides.
    pub fn for_project(dir: &Path) -> anyhow::Result<Self> {
        let mut tera = tera::Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        for (name, text) in EMBEDDED {
            let override_path = dir.join(".inngest/templates").join(format!("{name}.tera"));
            let text = if override_path.is_file() {
                std::fs::read_to_string(&override_path)
                    .with_context(|| format!("cannot read {}", override_path.display()))?
            } else {
                (*text).to_string()
            };
            tera.add_raw_template(name, &text)
                .with_context(|| format!("template {name} does not parse"))?;
        }
        Ok(Self { tera })
    }

    /// Renders a template.
    pub fn render(&self, name: &str, values: &[(&str, &str)]) -> anyhow::Result<String> {
        let mut ctx = tera::Context::new();
        for (k, v) in values {
            ctx.insert(k.to_string(), v);
        }
        self.tera
            .render(name, &ctx)
            .with_context(|| format!("rendering template {name}"))
    }
}
