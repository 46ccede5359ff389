//! Build script: embeds the numbered SQL files in the repository's `migrations/` folder into
//! the library, so a `weft` binary always carries exactly the schema it was built against and
//! never depends on files next to it at run time.
//!
//! It writes `$OUT_DIR/migrations.rs` (an `include_str!` per file, sorted by number) and fails
//! the build, naming the file, when a `.sql` file is misnamed or two files share a number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::{env, fs};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// One `NNNN_name.sql` file found in the migrations folder.
struct Found {
    name: String,
    path: PathBuf,
}

fn run() -> Result<(), String> {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR")
        .map_err(|e| format!("CARGO_MANIFEST_DIR is not set: {e}"))?;
    let raw_dir = Path::new(&manifest_dir).join("..").join("migrations");
    println!("cargo:rerun-if-changed={}", raw_dir.display());
    let dir = raw_dir.canonicalize().map_err(|e| {
        format!(
            "cannot read the migrations folder {}: {e}; it must exist at the repository root",
            raw_dir.display()
        )
    })?;

    let entries = fs::read_dir(&dir)
        .map_err(|e| format!("cannot list migrations folder {}: {e}", dir.display()))?;
    let mut found: BTreeMap<u32, Found> = BTreeMap::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| format!("cannot list migrations folder {}: {e}", dir.display()))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            return Err(format!(
                "migration file name {} is not valid UTF-8; rename it to NNNN_name.sql",
                path.display()
            ));
        };
        // Only `.sql` files are migrations; READMEs, editor files and dot-files are ignored.
        if name.starts_with('.') || !name.to_ascii_lowercase().ends_with(".sql") {
            continue;
        }
        let version = parse_name(&name).ok_or_else(|| {
            format!(
                "migration file {} is misnamed: expected NNNN_name.sql (a 4-digit number from \
                 0001, an underscore, then letters, digits, '_' or '-', lower-case .sql)",
                path.display()
            )
        })?;
        println!("cargo:rerun-if-changed={}", path.display());
        if let Some(other) = found.get(&version) {
            return Err(format!(
                "migrations {} and {} share the number {version:04}; give each file its own \
                 number",
                other.name, name
            ));
        }
        found.insert(version, Found { name, path });
    }

    let mut out = String::new();
    out.push_str(
        "/// The SQL files of `migrations/`, embedded by `build.rs`: (version, file name, SQL), \
         sorted by version.\n",
    );
    out.push_str("pub(crate) static EMBEDDED_MIGRATIONS: &[(u32, &str, &str)] = &[\n");
    for (version, file) in &found {
        let path = file.path.to_str().ok_or_else(|| {
            format!(
                "migration path {} is not valid UTF-8; move the repository to a UTF-8 path",
                file.path.display()
            )
        })?;
        writeln!(
            out,
            "    ({version}, {:?}, include_str!({:?})),",
            file.name, path
        )
        .map_err(|e| format!("cannot format generated code: {e}"))?;
    }
    out.push_str("];\n");

    let out_dir = env::var("OUT_DIR").map_err(|e| format!("OUT_DIR is not set: {e}"))?;
    let target = Path::new(&out_dir).join("migrations.rs");
    fs::write(&target, out).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(())
}

/// Returns the version of a well-formed `NNNN_name.sql` file name.
fn parse_name(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".sql")?;
    let (digits, rest) = (stem.get(..4)?, stem.get(4..)?);
    let label = rest.strip_prefix('_')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if label.is_empty()
        || !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let version: u32 = digits.parse().ok()?;
    (version > 0).then_some(version)
}
