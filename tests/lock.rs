//! One run per target at a time: the second gets who, where, which runbook and since, and exit 3.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::Project;

fn wait_for_holder(project: &Project) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let holder = std::fs::read_dir(project.file(".golive/locks"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .find(|text| text.contains("\"pid\""));
        if let Some(holder) = holder {
            return holder;
        }
        assert!(Instant::now() < deadline, "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_run_on_the_same_target_exits_3_with_the_holder() {
    let config = format!("{}\n[targets.staging]\nkind = \"local\"\n", common::BASE_CONFIG);
    let project = Project::with_config(&config);
    project.write("hold.rhai", "step \"hold\" { sleep(config(\"hold\", \"30s\")); }\n");
    let mut first = project.command(&["hold.rhai"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let holder = wait_for_holder(&project);

    let second = project.golive(&["hold.rhai"]);
    second.assert_code(3);
    let pid = first.id().to_string();
    assert!(second.stderr.contains("target `local` is in use"), "{}", second.stderr);
    assert!(second.stderr.contains("runs hold.rhai"), "{}", second.stderr);
    assert!(second.stderr.contains(&format!("(pid {pid}) since 20")), "{}\nholder: {holder}", second.stderr);
    assert!(second.stderr.contains(&format!("@{}", golive::run::identity::hostname())), "{}", second.stderr);
    assert_eq!(project.journals().len(), 1, "the refused run must leave no run folder behind");

    // Another target is another lock.
    std::fs::write(project.file("golive.toml"), format!("{config}\n[targets.staging.vars]\nhold = \"0s\"\n")).unwrap();
    project.golive(&["hold.rhai", "--target", "staging"]).assert_code(0);

    // The lock dies with its process, even a killed one.
    first.kill().unwrap();
    first.wait().unwrap();
    let run_id = project.journals()[0].parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    std::fs::write(project.file("golive.toml"), config.replace("[vars]\n", "[vars]\nhold = \"0s\"\n")).unwrap();
    let resumed = project.golive(&["resume", &run_id]);
    resumed.assert_code(0);
    assert!(resumed.stderr.contains("was in doubt; re-running it because it made no writes"), "{}", resumed.stderr);
}
