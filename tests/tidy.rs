//! Architecture checks that read the source as text (as rust-analyzer's tidy
//! tests do): every Rust file opens with a `//!` line, the modules of `src/`
//! import each other without a cycle, and the executor never imports the
//! builder or the compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "corpus" && name != "artifacts" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let root = root();
    let mut missing = Vec::new();
    for dir in ["src", "tests", "benches", "examples", "fuzz"] {
        for file in rust_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            if !text.starts_with("//!") {
                missing.push(file.strip_prefix(&root).unwrap_or(&file).to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for: {missing:?}"
    );
}

/// The module a file of `src/` defines, as a path (`exec::run`; `lib.rs` and
/// `mod.rs` name their folder).
fn module_of(file: &Path, src: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "mod")) {
        parts.pop();
    }
    parts.join("::")
}

/// Which modules of `src/` each module names through `crate::` or `super::`
/// paths (comments removed; `use crate::{a, b::c}` groups expanded).
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let files = rust_files(&src);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f, &src)).collect();
    // The longest module path that prefixes `path`.
    let resolve = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|k| path[..k].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut imports = BTreeMap::new();
    for file in &files {
        let me = module_of(file, &src);
        let parent: Vec<&str> = me.split("::").filter(|s| !s.is_empty()).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        let text: String = std::fs::read_to_string(file)
            .expect("a readable source file")
            .lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = BTreeSet::new();
        for (prefix, base) in [("crate::", &[][..]), ("super::", parent)] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                let group: Vec<String> = if let Some(inner) = rest.strip_prefix('{') {
                    let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                    inner.split(',').map(|s| s.trim().to_owned()).collect()
                } else {
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .unwrap_or(rest.len());
                    vec![rest[..end].to_owned()]
                };
                for item in group {
                    let mut path: Vec<&str> = base.to_vec();
                    path.extend(item.split("::").filter(|s| !s.is_empty() && *s != "{"));
                    if let Some(target) = resolve(&path) {
                        if !target.is_empty() && target != me {
                            named.insert(target);
                        }
                    }
                }
            }
        }
        imports.insert(me, named);
    }
    imports
}

#[test]
fn src_modules_import_each_other_without_a_cycle() {
    let imports = module_imports();
    assert!(
        imports.len() > 10,
        "found only {} modules: the scan is broken",
        imports.len()
    );
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        module: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in imports.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, imports, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in imports.keys() {
        if let Some(cycle) = visit(module, &imports, &mut Vec::new(), &mut done) {
            panic!(
                "the modules of src/ import each other in a cycle: {}; one type is likely in the wrong file",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_executor_imports_neither_the_builder_nor_the_compiler() {
    let imports = module_imports();
    for (module, named) in &imports {
        if module == "exec" || module.starts_with("exec::") {
            for forbidden in ["builder", "compile"] {
                assert!(
                    !named.contains(forbidden),
                    "{module} imports {forbidden}: the executor runs frozen graphs only"
                );
            }
        }
    }
    assert!(
        imports.contains_key("exec::run") && imports["exec::run"].contains("csr"),
        "the scan no longer sees exec::run's imports: {imports:?}"
    );
}
