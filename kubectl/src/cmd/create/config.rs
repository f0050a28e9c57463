//! `kubectl create configmap` and `create secret generic|tls|docker-registry`:
//! the object is made here, from literals, files, directories and env files
//! as kubectl reads them, and the server only stores it. A ConfigMap keeps
//! UTF-8 contents in `data` and anything else in `binaryData`; a Secret keeps
//! every value as bytes (base64 in JSON).

use crate::cli::{
    CreateConfigMapArgs, CreateSecretCommand, CreateSecretDockerArgs, CreateSecretTlsArgs, DataSourceArgs,
};
use crate::cmd::shared::create_object;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use api::k8s_openapi::api::core::v1::{ConfigMap, Secret};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use api::k8s_openapi::ByteString;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Entries in the order the sources give them, keys unique.
type Entries = Vec<(String, Vec<u8>)>;

/// `KEY=VALUE` from `--from-literal` (the value may hold more `=`).
fn literal(source: &str) -> Result<(String, Vec<u8>)> {
    match source.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.as_bytes().to_vec())),
        _ => Err(Error::msg(format!("invalid literal source {source}, expected key=value"))),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::msg(format!("error reading {}: {e}", path.display())))
}

/// `--from-file=[KEY=]PATH`: a file is one entry (keyed by its name unless a
/// key is given); a directory gives one entry per regular file in it.
fn file_source(source: &str) -> Result<Entries> {
    let (key, path) = match source.split_once('=') {
        Some(("", _)) => return Err(Error::msg(format!("key name for file path {source} missing"))),
        Some((_, "")) => return Err(Error::msg(format!("file path for key name {source} missing"))),
        Some((key, path)) => (Some(key), Path::new(path)),
        None => (None, Path::new(source)),
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::msg(format!("error reading {}: {e}", path.display())))?;
    if !meta.is_dir() {
        let key = match key {
            Some(k) => k.to_string(),
            None => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        return Ok(vec![(key, read(path)?)]);
    }
    if key.is_some() {
        return Err(Error::msg("cannot give a key name for a directory path."));
    }
    let listing = std::fs::read_dir(path).map_err(|e| Error::msg(format!("error listing files in {source}: {e}")))?;
    let mut files: Vec<_> = listing.filter_map(std::result::Result::ok).collect();
    files.sort_by_key(std::fs::DirEntry::file_name);
    let mut entries = Vec::new();
    for file in files {
        // Only regular files (not followed through symlinks to directories, nor subdirectories).
        if file.file_type().is_ok_and(|t| t.is_file()) {
            entries.push((file.file_name().to_string_lossy().into_owned(), read(&file.path())?));
        }
    }
    Ok(entries)
}

/// `--from-env-file`: `KEY=VALUE` lines; blank lines and `#` comments are
/// skipped, leading white space dropped, a bare `KEY` takes the value of
/// the environment variable.
fn env_file(path: &str) -> Result<Entries> {
    let bytes = read(Path::new(path))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::msg(format!("env file {path} is not valid UTF-8")))?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = if n == 0 { line.trim_start_matches('\u{feff}') } else { line };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, v.to_string()),
            None => (line, std::env::var(line).unwrap_or_default()),
        };
        let problems = api::validation::names::env_var_name(key);
        if !problems.is_empty() {
            return Err(Error::msg(format!("{key:?} is not a valid key name: {}", problems.join(";"))));
        }
        entries.push((key.to_string(), value.into_bytes()));
    }
    Ok(entries)
}

/// Every entry of the sources, keys checked as config keys and unique.
/// `kind` names the object in errors.
fn entries(sources: &DataSourceArgs, kind: &str, name: &str) -> Result<Entries> {
    let mut all = Entries::new();
    for s in &sources.from_file {
        all.extend(file_source(s)?);
    }
    for s in &sources.from_literal {
        all.push(literal(s)?);
    }
    for s in &sources.from_env_file {
        all.extend(env_file(s)?);
    }
    let mut seen = std::collections::HashSet::new();
    for (key, _) in &all {
        let problems = api::validation::config_key(key);
        if !problems.is_empty() {
            return Err(Error::msg(format!("{key:?} is not a valid key name for a {kind}: {}", problems.join(";"))));
        }
        if !seen.insert(key.as_str()) {
            return Err(Error::msg(format!(
                "cannot add key {key:?}, another key by that name already exists in data for {kind} {name:?}"
            )));
        }
    }
    Ok(all)
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.to_string()), ..Default::default() }
}

/// The ConfigMap `create configmap` makes: text in `data`, other bytes in `binaryData`.
pub fn config_map_object(a: &CreateConfigMapArgs) -> Result<Value> {
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    for (key, value) in entries(&a.sources, "ConfigMap", &a.name)? {
        match String::from_utf8(value) {
            Ok(text) => {
                data.insert(key, text);
            }
            Err(e) => {
                binary.insert(key, ByteString(e.into_bytes()));
            }
        }
    }
    let cm = ConfigMap {
        metadata: meta(&a.name),
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        ..Default::default()
    };
    Ok(serde_json::to_value(cm).expect("a ConfigMap serializes"))
}

fn secret_value(name: &str, type_: Option<String>, data: Entries) -> Value {
    let data: BTreeMap<String, ByteString> = data.into_iter().map(|(k, v)| (k, ByteString(v))).collect();
    let s = Secret { metadata: meta(name), type_, data: Some(data), ..Default::default() };
    serde_json::to_value(s).expect("a Secret serializes")
}

/// `create secret generic`: the sources as bytes, `--type` if given (the server defaults Opaque).
pub fn generic_secret_object(name: &str, sources: &DataSourceArgs, type_: Option<String>) -> Result<Value> {
    Ok(secret_value(name, type_, entries(sources, "Secret", name)?))
}

/// `create secret tls`: `tls.crt` and `tls.key` read from `--cert` and `--key`.
pub fn tls_secret_object(a: &CreateSecretTlsArgs) -> Result<Value> {
    let (Some(cert), Some(key)) =
        (a.cert.as_deref().filter(|c| !c.is_empty()), a.key.as_deref().filter(|k| !k.is_empty()))
    else {
        return Err(Error::msg("key and cert must be specified"));
    };
    let data = vec![("tls.crt".to_string(), read(Path::new(cert))?), ("tls.key".to_string(), read(Path::new(key))?)];
    Ok(secret_value(&a.name, Some("kubernetes.io/tls".into()), data))
}

/// A JSON string, escaped as Go's encoder does for these plain values.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string encodes")
}

/// The `.dockerconfigjson` kubectl writes: `{"auths":{SERVER:{...}}}` with
/// the fields in its struct's order and empty ones left out.
pub fn docker_config_json(server: &str, username: &str, password: &str, email: &str) -> String {
    let auth = serde_json::to_value(ByteString(format!("{username}:{password}").into_bytes())).expect("bytes encode");
    let auth = auth.as_str().unwrap_or_default().to_string();
    let fields: Vec<String> =
        [("username", username), ("password", password), ("email", email), ("auth", auth.as_str())]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("\"{k}\":{}", json_str(v)))
            .collect();
    format!("{{\"auths\":{{{}:{{{}}}}}}}", json_str(server), fields.join(","))
}

/// `create secret docker-registry`: a `.dockerconfigjson` from the flags, or
/// the given files' contents (`--from-file`).
pub fn docker_secret_object(a: &CreateSecretDockerArgs) -> Result<Value> {
    let data = if a.from_file.is_empty() {
        let (Some(user), Some(pass)) = (
            a.docker_username.as_deref().filter(|u| !u.is_empty()),
            a.docker_password.as_deref().filter(|p| !p.is_empty()),
        ) else {
            return Err(Error::msg(
                "either --from-file or the combination of --docker-username, --docker-password and --docker-server \
                 is required",
            ));
        };
        if a.docker_server.is_empty() {
            return Err(Error::msg(
                "either --from-file or the combination of --docker-username, --docker-password and --docker-server \
                 is required",
            ));
        }
        let email = a.docker_email.as_deref().unwrap_or("");
        vec![(".dockerconfigjson".to_string(), docker_config_json(&a.docker_server, user, pass, email).into_bytes())]
    } else {
        let sources = DataSourceArgs { from_file: a.from_file.clone(), ..Default::default() };
        entries(&sources, "Secret", &a.name)?
    };
    Ok(secret_value(&a.name, Some("kubernetes.io/dockerconfigjson".into()), data))
}

pub async fn run_config_map(ctx: &mut Ctx, a: CreateConfigMapArgs) -> Result<()> {
    let obj = config_map_object(&a)?;
    create_object(ctx, obj, &a.out.dry_run, a.out.output.as_deref()).await
}

pub async fn run_secret(ctx: &mut Ctx, what: CreateSecretCommand) -> Result<()> {
    let (obj, out) = match what {
        CreateSecretCommand::Generic(a) => (generic_secret_object(&a.name, &a.sources, a.type_.clone())?, a.out),
        CreateSecretCommand::Tls(a) => (tls_secret_object(&a)?, a.out),
        CreateSecretCommand::DockerRegistry(a) => (docker_secret_object(&a)?, a.out),
    };
    create_object(ctx, obj, &out.dry_run, out.output.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse_args as parse, Command, CreateCommand};
    use serde_json::json;

    fn create(args: &[&str]) -> Option<CreateCommand> {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let Command::Create(c) = parse(&all).command else { panic!("not create") };
        c.what
    }

    fn config_map(args: &[&str]) -> Result<Value> {
        match create(args) {
            Some(CreateCommand::Configmap(a)) => config_map_object(&a),
            other => panic!("not create configmap: {other:?}"),
        }
    }

    fn secret(args: &[&str]) -> Result<Value> {
        let mut all = vec!["secret"];
        all.extend_from_slice(args);
        match create(&all) {
            Some(CreateCommand::Secret { what: CreateSecretCommand::Generic(a) }) => {
                generic_secret_object(&a.name, &a.sources, a.type_)
            }
            Some(CreateCommand::Secret { what: CreateSecretCommand::Tls(a) }) => tls_secret_object(&a),
            Some(CreateCommand::Secret { what: CreateSecretCommand::DockerRegistry(a) }) => docker_secret_object(&a),
            other => panic!("not create secret: {other:?}"),
        }
    }

    #[test]
    fn config_maps_from_literals_files_directories_and_env_files() {
        let cm = config_map(&["configmap", "fortune-config", "--from-literal=sleep-interval=25"]).unwrap();
        assert_eq!(cm["apiVersion"], "v1");
        assert_eq!(cm["kind"], "ConfigMap");
        assert_eq!(cm["metadata"], json!({"name": "fortune-config"}));
        assert_eq!(cm["data"], json!({"sleep-interval": "25"}));

        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("my-nginx-config.conf");
        std::fs::write(&conf, "server {}\n").unwrap();
        std::fs::write(dir.path().join("bin"), [0xff, 0x00]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let env = dir.path().join("sub/app.env");
        std::fs::write(&env, "\u{feff}# settings\n\n  A=1\nB=x=y\n").unwrap();
        let d = dir.path().to_str().unwrap();
        let cm = config_map(&["cm", "c", &format!("--from-file={d}")]).unwrap();
        assert_eq!(cm["data"], json!({"my-nginx-config.conf": "server {}\n"}), "subdirectories are skipped");
        assert_eq!(cm["binaryData"], json!({"bin": "/wA="}), "bytes that are not UTF-8 are binaryData");

        let keyed = format!("--from-file=nginx.conf={}", conf.display());
        let from_env = format!("--from-env-file={}", env.display());
        let cm = config_map(&["configmap", "c", &keyed, &from_env, "--from-literal=x=1"]).unwrap();
        assert_eq!(cm["data"], json!({"nginx.conf": "server {}\n", "A": "1", "B": "x=y", "x": "1"}));
    }

    #[test]
    fn bad_sources_are_refused_naming_them() {
        let err = |args: &[&str]| config_map(args).unwrap_err().to_string();
        assert_eq!(
            err(&["cm", "c", "--from-literal=novalue"]),
            "error: invalid literal source novalue, expected key=value"
        );
        assert!(err(&["cm", "c", "--from-literal=a b=1"])
            .starts_with("error: \"a b\" is not a valid key name for a ConfigMap: "));
        assert_eq!(
            err(&["cm", "c", "--from-literal=a=1", "--from-literal=a=2"]),
            "error: cannot add key \"a\", another key by that name already exists in data for ConfigMap \"c\""
        );
        assert!(err(&["cm", "c", "--from-file=/no/such/file"]).starts_with("error: error reading /no/such/file: "));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(
            err(&["cm", "c", &format!("--from-file=k={d}")]),
            "error: cannot give a key name for a directory path."
        );
    }

    #[test]
    fn generic_secrets_hold_base64_bytes() {
        let s = secret(&["generic", "s", "--from-literal=user=admin", "--type=Custom"]).unwrap();
        assert_eq!(s["kind"], "Secret");
        assert_eq!(s["data"], json!({"user": "YWRtaW4="}));
        assert_eq!(s["type"], "Custom");
        let plain = secret(&["generic", "s", "--from-literal=foo=bar"]).unwrap();
        assert!(plain.get("type").is_none(), "the server defaults the type");
    }

    #[test]
    fn tls_secrets_need_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = (dir.path().join("https.cert"), dir.path().join("https.key"));
        std::fs::write(&crt, "CERT").unwrap();
        std::fs::write(&key, "KEY").unwrap();
        let (crt, key) = (crt.display().to_string(), key.display().to_string());
        let s = secret(&["tls", "t", &format!("--cert={crt}"), &format!("--key={key}")]).unwrap();
        assert_eq!(s["type"], "kubernetes.io/tls");
        assert_eq!(s["data"], json!({"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}));
        assert_eq!(
            secret(&["tls", "t", &format!("--cert={crt}")]).unwrap_err().to_string(),
            "error: key and cert must be specified"
        );
    }

    #[test]
    fn docker_registry_secrets_carry_a_docker_config() {
        let s = secret(&["docker-registry", "d", "--docker-username=u", "--docker-password=p"]).unwrap();
        assert_eq!(s["type"], "kubernetes.io/dockerconfigjson");
        let bytes: ByteString = serde_json::from_value(s["data"][".dockerconfigjson"].clone()).unwrap();
        assert_eq!(
            String::from_utf8(bytes.0).unwrap(),
            r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p","auth":"dTpw"}}}"#
        );
        assert!(secret(&["docker-registry", "d", "--docker-username=u"])
            .unwrap_err()
            .to_string()
            .starts_with("error: either --from-file or the combination of"));
    }
}
