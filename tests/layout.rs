//! The workspace's shape: no import cycle between crates (cargo refuses
//! those) or between the files of a crate (`scripts/import-cycles.py`).

use std::path::Path;
use std::process::Command;

#[test]
fn no_file_of_a_crate_depends_on_a_file_that_depends_on_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(root.join("scripts/import-cycles.py"))
        .current_dir(root)
        .output()
        .expect("python3 runs the import-cycle check");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "import cycles:\n{report}");
    assert!(
        report.contains("0 import cycle(s) in 12 crate(s)"),
        "{report}"
    );
}
