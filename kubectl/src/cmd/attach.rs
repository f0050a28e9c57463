//! `kubectl attach`: joins the main process of a running container (a pod by
//! name, or the pod a controller or service selects): its output from now on,
//! and with `-i` our stdin as its input. The session itself is [`session`]'s.

use super::session::{self, pod_running_timeout, AttachOptions};
use super::{pod_target, Ctx};
use crate::cli::AttachArgs;
use crate::error::{Error, Result};

/// The object to attach to, from `POD`, `TYPE/NAME` or `TYPE NAME`, checked as
/// kubectl's `Complete` and `Validate` do.
pub fn resource(a: &AttachArgs) -> Result<String> {
    if let Err(e) = pod_running_timeout(&a.pod_running_timeout, "attach") {
        // A usage error of attach's: kubectl prints it with a capital E and a hint.
        return Err(match e {
            Error::Msg(m) if !m.starts_with("invalid argument") => {
                Error::Code(format!("Error: {m}\nSee 'kubectl attach -h' for help and examples"), 1)
            }
            other => other,
        });
    }
    match a.args.as_slice() {
        [] => Err(Error::msg("at least 1 argument is required for attach")),
        [one] => Ok(one.clone()),
        [kind, name] => Ok(format!("{kind}/{name}")),
        many => Err(Error::msg(format!(
            "expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) saw {}: [{}]",
            many.len(),
            many.join(" ")
        ))),
    }
}

pub async fn run(ctx: &mut Ctx, a: AttachArgs) -> Result<()> {
    let target = resource(&a)?;
    let (info, obj) = pod_target::get_object(ctx, &target).await?;
    let (pod, _) = pod_target::pod_for_object(ctx, info, obj).await?;
    let phase = api::pod::phase(&pod);
    if phase == "Succeeded" || phase == "Failed" {
        return Err(Error::msg(format!("cannot attach a container in a completed pod; current phase is {phase}")));
    }
    let opts = AttachOptions { container: a.container.clone(), stdin: a.stdin, tty: a.tty, quiet: a.quiet };
    // A session ended early because the container stopped is simply over.
    session::attach(ctx, &pod, &opts).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> AttachArgs {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from(std::iter::once("kubectl").chain(line.iter().copied())).unwrap();
        match cli.command {
            crate::cli::Command::Attach(a) => a,
            other => panic!("expected attach, got {other:?}"),
        }
    }

    #[test]
    fn the_pod_is_named_once_or_by_type_and_name() {
        let a = args(&["attach", "-it", "shell", "-c", "main"]);
        assert!(a.stdin && a.tty && !a.quiet);
        assert_eq!(a.container.as_deref(), Some("main"));
        assert_eq!(resource(&a).unwrap(), "shell");
        assert_eq!(resource(&args(&["attach", "deploy/web"])).unwrap(), "deploy/web");
        assert_eq!(resource(&args(&["attach", "rs", "web", "-q"])).unwrap(), "rs/web");
        assert_eq!(pod_running_timeout(&args(&["attach", "x"]).pod_running_timeout, "attach").unwrap().as_secs(), 60);
    }

    #[test]
    fn attach_errors_read_like_kubectl() {
        let err = |line: &[&str]| resource(&args(line)).unwrap_err().to_string();
        assert_eq!(err(&["attach"]), "error: at least 1 argument is required for attach");
        assert_eq!(
            err(&["attach", "a", "b", "c"]),
            "error: expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) saw 3: [a b c]"
        );
        assert_eq!(
            err(&["attach", "x", "--pod-running-timeout=0"]),
            "Error: --pod-running-timeout must be higher than zero\nSee 'kubectl attach -h' for help and examples"
        );
        assert_eq!(
            err(&["attach", "x", "--pod-running-timeout=abc"]),
            "error: invalid argument \"abc\" for \"--pod-running-timeout\" flag: time: invalid duration \"abc\"\nSee \
             'kubectl attach --help' for usage."
        );
        assert_eq!(
            pod_running_timeout("-1s", "run").unwrap_err().to_string(),
            "error: --pod-running-timeout must be higher than zero"
        );
    }
}
