//! A `compose exec` runs its command inside a container, outside the process group golive stops on the
//! host: stopping the group stops only the docker-compose client, and docker lets the command go on. So
//! golive marks the command with an environment variable (`-e GOLIVE_EFFECT=<token>`, added when it is
//! performed, never in plans) and, when it stops the group, also stops whatever carries that mark inside the
//! container (POSIX sh, busybox: /proc/*/environ), TERM then KILL, and confirms it is gone.
//!
//! Only golive's own `compose exec -T SERVICE ...` argv (docker::compose(t).exec, drush::*) is recognised;
//! a `docker-compose exec` written into a shell string is not (documented).

use super::Command;
use super::process_group::Stopped;

/// How to stop a marked command inside its container: the compose argv up to the service, and the mark.
#[derive(Debug, Clone, PartialEq)]
pub struct Inside {
    prefix: Vec<String>,
    token: String,
}

/// The command with its mark added, and how to stop it inside, when it is golive's own `compose exec -T`.
pub fn mark(command: &Command) -> (Command, Option<Inside>) {
    let Command::Argv(argv) = command else { return (command.clone(), None) };
    let at = match argv.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["docker-compose", "exec", "-T", _, ..] => 3,
        ["docker", "compose", "exec", "-T", _, ..] => 4,
        _ => return (command.clone(), None),
    };
    let token = super::fresh_token();
    let mut marked = argv[..at].to_vec();
    marked.push("-e".into());
    marked.push(format!("GOLIVE_EFFECT={token}"));
    marked.extend(argv[at..].iter().cloned());
    let prefix = argv[..=at].to_vec();
    (Command::Argv(marked), Some(Inside { prefix, token }))
}

impl Inside {
    /// The compose command that stops the marked processes inside the container and prints how it went.
    pub fn stop_command(&self) -> Command {
        let mut argv = self.prefix.clone();
        argv.extend(["sh".into(), "-c".into(), stop_script(&self.token)]);
        Command::Argv(argv)
    }

    /// The journal's words for an answer of `stop_command`.
    pub fn describe(&self, stdout: &str) -> String {
        let service = self.prefix.last().map(String::as_str).unwrap_or("?");
        match parse_stop(stdout) {
            Some(None) => format!("inside `{service}`: nothing of it left running"),
            Some(Some(Stopped::Term)) => format!("inside `{service}`: TERM, gone"),
            Some(Some(Stopped::Kill)) => format!("inside `{service}`: TERM, then KILL, gone"),
            Some(Some(Stopped::StillRunning)) => {
                format!("inside `{service}`: NOT confirmed stopped (still running after KILL)")
            }
            None => format!("inside `{service}`: NOT confirmed stopped: {}", stdout.trim()),
        }
    }
}

/// Inside the container: the live processes carrying the mark (not this script's own) are stopped by the
/// shared sequence (`process_group::stop_script`); prints `none` when nothing carries it.
fn stop_script(token: &str) -> String {
    let setup = format!(
        "mark=GOLIVE_EFFECT={token}; me=$$; \
         marked() {{ for p in /proc/[0-9]*; do n=${{p#/proc/}}; [ \"$n\" = \"$me\" ] && continue; \
         if tr '\\000' '\\n' < $p/environ 2>/dev/null | grep -qx \"$mark\"; then \
         s=$(cut -d' ' -f3 $p/stat 2>/dev/null); [ \"$s\" = Z ] || echo $n; fi; done; }}; \
         if [ -z \"$(marked)\" ]; then echo none; exit 0; fi; "
    );
    let stop = super::process_group::stop_script(
        "[ -n \"$(marked)\" ]",
        "kill -TERM $(marked) 2>/dev/null",
        "kill -KILL $(marked) 2>/dev/null",
    );
    format!("{setup}{stop}")
}

/// None for an answer the script never gives; Some(None) when nothing was left running.
fn parse_stop(stdout: &str) -> Option<Option<Stopped>> {
    match stdout.trim() {
        "none" => Some(None),
        other => super::process_group::parse_stop(other).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_golive_s_own_compose_exec_is_marked_after_dash_t() {
        let argv = |a: &[&str]| Command::Argv(a.iter().map(|s| s.to_string()).collect());
        let (marked, inside) = mark(&argv(&["docker-compose", "exec", "-T", "drupal", "drush", "updb", "-y"]));
        let Command::Argv(marked) = marked else { panic!() };
        assert_eq!(&marked[..4], ["docker-compose", "exec", "-T", "-e"]);
        assert!(marked[4].starts_with("GOLIVE_EFFECT="));
        assert_eq!(&marked[5..], ["drupal", "drush", "updb", "-y"]);
        let Command::Argv(stop) = inside.unwrap().stop_command() else { panic!() };
        assert_eq!(&stop[..6], ["docker-compose", "exec", "-T", "drupal", "sh", "-c"]);
        let (_, inside) = mark(&argv(&["docker", "compose", "exec", "-T", "db", "mysql"]));
        assert!(inside.is_some());
        assert!(mark(&argv(&["docker-compose", "ps"])).1.is_none());
        assert!(mark(&Command::Shell("docker-compose exec -T drupal drush cr".into())).1.is_none());
    }

    #[test]
    fn stop_answers_are_read() {
        assert_eq!(parse_stop("none\n"), Some(None));
        assert_eq!(parse_stop("gone-kill"), Some(Some(Stopped::Kill)));
        assert_eq!(parse_stop("Error: No such service"), None);
    }
}
