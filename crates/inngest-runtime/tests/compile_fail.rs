//! What the step API must refuse at compile time, with the compiler's message checked in
//! (`tests/ui/*.stderr`; regenerate with `TRYBUILD=overwrite` after a toolchain change).

#[test]
fn step_api_misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
