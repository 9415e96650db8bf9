//! Embeds every page catalogue in `src/web/i18n/`: a language is added by
//! adding its file, with no code to change.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("src/web/i18n");
    println!("cargo:rerun-if-changed=src/web/i18n");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut out = String::from("pub const CATALOGUES: &[(&str, &str)] = &[\n");
    for p in &files {
        let Some(tag) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let _ = writeln!(
            out,
            "    ({tag:?}, include_str!({:?})),",
            abs.display().to_string()
        );
        println!("cargo:rerun-if-changed={}", p.display());
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("i18n.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
