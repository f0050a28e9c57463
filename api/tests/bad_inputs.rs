//! Runs every file in `tests/bad-manifests/` through the path a manifest takes
//! from `kubectl apply -f` to storage (parse, resolve the kind, strict decode,
//! default, validate) and checks the message a user would read. Each file states
//! the message it expects on its first line: `# expect: <message>`.

use api::{codec, registry, validation, ApiError};
use serde_json::{json, Value};
use std::path::Path;

/// The create path, stopping at the first error as the apiserver does per object.
fn apply(text: &str, source: &str) -> Result<Vec<Value>, ApiError> {
    let mut stored = Vec::new();
    for mut obj in codec::parse_manifests(text, source)? {
        let info = registry::by_kind(api::meta::api_version(&obj), api::meta::kind(&obj))?;
        validation::decode_check(info, &obj)?;
        if info.namespaced && api::meta::namespace(&obj).is_empty() {
            api::meta::set_meta(&mut obj, "namespace", "default");
        }
        api::meta::set_meta(&mut obj, "uid", "00000000-0000-4000-8000-000000000000");
        validation::apply_defaults(info, &mut obj)?;
        validation::validate(info, &obj, None)?;
        stored.push(obj);
    }
    Ok(stored)
}

#[test]
fn each_bad_manifest_fails_with_its_expected_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-manifests");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus went missing: {files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        let expected = first.strip_prefix("# expect: ").unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        // JSON has no comments: blank the line out so positions in errors stay the file's own.
        let body = format!("\n{rest}");
        let got = match apply(&body, &name) {
            Ok(objs) => panic!("{name}: accepted {} object(s), expected: {expected}", objs.len()),
            Err(e) => e.message,
        };
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_good_manifest_goes_through() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kubia-manual\nspec:\n  containers:\n  \
                - image: luksa/kubia\n    name: kubia\n    ports:\n    - containerPort: 8080\n      protocol: TCP\n";
    let stored = apply(text, "kubia-manual.yaml").unwrap();
    assert_eq!(stored[0]["spec"]["containers"][0]["imagePullPolicy"], json!("Always"));
    assert!(codec::to_yaml(&stored[0]).contains("\n    ports:\n    - containerPort: 8080\n"));
}
