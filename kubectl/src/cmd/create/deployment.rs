//! `kubectl create deployment NAME --image=...`: label and selector `app=NAME`.

use crate::cli::CreateDeploymentArgs;
use crate::cmd::shared::create_object;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use api::k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use api::k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, PodTemplateSpec};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::Value;
use std::collections::BTreeMap;

/// kubectl's container name for an image: its last path segment without tag or
/// digest, with characters a name cannot hold replaced by `-`.
pub fn container_name(image: &str) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split('@').next().unwrap_or(base);
    let base = base.split(':').next().unwrap_or(base);
    base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// kubectl's flags for counts and ports are int32; larger values cannot be written.
fn int32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// The Deployment `kubectl create deployment` makes: label and selector `app=NAME`.
/// The empty `strategy`, `resources` and `status` are there as kubectl's Go
/// structs print them in a dry run.
pub fn deployment_object(a: &CreateDeploymentArgs) -> Value {
    let containers: Vec<Container> = a
        .image
        .iter()
        .map(|image| Container {
            name: container_name(image),
            image: Some(image.clone()),
            resources: Some(Default::default()),
            command: (!a.command.is_empty()).then(|| a.command.clone()),
            ports: (a.port >= 0).then(|| vec![ContainerPort { container_port: int32(a.port), ..Default::default() }]),
            ..Default::default()
        })
        .collect();
    let labels = BTreeMap::from([("app".to_string(), a.name.clone())]);
    let d = Deployment {
        metadata: ObjectMeta { name: Some(a.name.clone()), labels: Some(labels.clone()), ..Default::default() },
        spec: Some(DeploymentSpec {
            replicas: Some(int32(a.replicas)),
            selector: LabelSelector { match_labels: Some(labels.clone()), ..Default::default() },
            strategy: Some(Default::default()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec { containers, ..Default::default() }),
            },
            ..Default::default()
        }),
        status: Some(Default::default()),
    };
    serde_json::to_value(&d).expect("a Deployment serializes")
}

pub async fn run(ctx: &mut Ctx, a: CreateDeploymentArgs) -> Result<()> {
    if a.image.len() > 1 && !a.command.is_empty() {
        return Err(Error::msg("cannot specify multiple --image options and command"));
    }
    let obj = deployment_object(&a);
    create_object(ctx, obj, &a.dry_run, a.output.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse_args as parse, Cli, Command, CreateCommand};
    use clap::Parser;
    use serde_json::json;

    #[test]
    fn create_deployment_builds_what_kubectl_builds() {
        let cli = parse(&["create", "deployment", "kubia", "--image=luksa/kubia:v1", "--replicas=3", "--port=8080"]);
        let Command::Create(c) = cli.command else { panic!("not create") };
        let Some(CreateCommand::Deployment(a)) = c.what else { panic!("not create deployment") };
        let d = deployment_object(&a);
        assert_eq!(d["metadata"]["labels"], json!({"app": "kubia"}));
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "kubia"}}));
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!((c["name"].as_str(), c["image"].as_str()), (Some("kubia"), Some("luksa/kubia:v1")));
        assert_eq!(c["ports"], json!([{"containerPort": 8080}]));
        assert!(Cli::try_parse_from(["kubectl", "create", "deployment", "kubia"]).is_err(), "--image is required");
        assert_eq!(container_name("registry:5000/team/my_app@sha256:abc"), "my-app");
    }
}
