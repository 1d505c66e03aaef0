//! A CPU budget per worker, the way a replica gets one: a CPU cgroup per process with a
//! CFS quota, as Kubernetes and Docker set a container's CPU limit.
//!
//! On a machine whose few cores PostgreSQL, Redis and the workers share, one worker with
//! no limit already keeps every core busy, so a second worker has nothing to add and the
//! drain measures the machine, not whether workers scale. Held to a fixed budget each, the
//! workers are the bottleneck, as replicas on their own nodes are, and the drain with two
//! shows whether anything serialises them.
//!
//! Two writes to the cgroup filesystem do not warrant a dependency. It needs root: cgroup
//! v1's `cpu` controller, or cgroup v2 with `cpu` enabled for the children of the parent of
//! this process's group (the groups are made beside that group, since a v2 group holding
//! processes cannot enable controllers for its own children). [`CpuBudget::new`] tries it
//! once, so a machine that cannot is told before the runs start.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The CFS period; the quota is `millicores` thousandths of it.
const PERIOD_US: u64 = 100_000;

/// Where groups are made, and how the quota is written there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hierarchy {
    /// cgroup v1's `cpu` controller: `cpu.cfs_period_us` and `cpu.cfs_quota_us`.
    V1(PathBuf),
    /// cgroup v2: `cpu.max`, beside this process's group, in a parent whose
    /// `cgroup.subtree_control` enables `cpu`.
    V2(PathBuf),
}

/// Groups made for workers, removed when dropped (after the workers have stopped).
#[derive(Debug)]
pub struct CpuBudget {
    millicores: u64,
    hierarchy: Hierarchy,
    groups: Vec<PathBuf>,
}

impl CpuBudget {
    /// Finds a CPU controller this process may create groups under, and makes and removes
    /// one to be sure.
    pub fn new(millicores: u64) -> anyhow::Result<Self> {
        // The kernel refuses a quota under 1 ms per period.
        anyhow::ensure!(
            millicores >= 10,
            "a CPU budget under 10 millicores cannot be set (given {millicores})"
        );
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let hierarchy = if v1.join("cpu.cfs_quota_us").exists() {
            Hierarchy::V1(v1.to_owned())
        } else {
            let own = std::fs::read_to_string("/proc/self/cgroup")
                .context("cannot read /proc/self/cgroup")?;
            let relative = v2_path(&own).context("no cgroup v2 path in /proc/self/cgroup")?;
            let own = Path::new("/sys/fs/cgroup").join(relative.trim_start_matches('/'));
            let parent = own.parent().unwrap_or(&own).to_owned();
            let enabled = std::fs::read_to_string(parent.join("cgroup.subtree_control"))
                .with_context(|| format!("cannot read {}", parent.display()))?;
            anyhow::ensure!(
                enabled.split_whitespace().any(|c| c == "cpu"),
                "the cpu controller is not enabled for children of {}",
                parent.display()
            );
            Hierarchy::V2(parent)
        };
        let budget = Self {
            millicores,
            hierarchy,
            groups: Vec::new(),
        };
        let probe = budget.make_group("probe")?;
        std::fs::remove_dir(&probe)
            .with_context(|| format!("cannot remove the cgroup {}", probe.display()))?;
        Ok(budget)
    }

    pub fn millicores(&self) -> u64 {
        self.millicores
    }

    /// Moves `pid`, with every thread it has and will start, into a group of its own held
    /// to the budget.
    pub fn confine(&mut self, pid: u32) -> anyhow::Result<()> {
        let group = self.make_group(&pid.to_string())?;
        self.groups.push(group.clone());
        std::fs::write(group.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("cannot move process {pid} into {}", group.display()))
    }

    /// A group held to the budget, named after this process and `suffix`.
    fn make_group(&self, suffix: &str) -> anyhow::Result<PathBuf> {
        let name = format!("clerk-sync-bench-{}-{suffix}", std::process::id());
        let quota = self.millicores * PERIOD_US / 1000;
        let (group, settings) = match &self.hierarchy {
            Hierarchy::V1(root) => (
                root.join(name),
                vec![
                    ("cpu.cfs_period_us", PERIOD_US.to_string()),
                    ("cpu.cfs_quota_us", quota.to_string()),
                ],
            ),
            Hierarchy::V2(parent) => (
                parent.join(name),
                vec![("cpu.max", format!("{quota} {PERIOD_US}"))],
            ),
        };
        std::fs::create_dir(&group)
            .with_context(|| format!("cannot create the cgroup {}", group.display()))?;
        for (file, value) in settings {
            if let Err(err) = std::fs::write(group.join(file), value) {
                let _ = std::fs::remove_dir(&group);
                return Err(err)
                    .with_context(|| format!("cannot write {}/{file}", group.display()));
            }
        }
        Ok(group)
    }
}

impl Drop for CpuBudget {
    fn drop(&mut self) {
        // A group can only be removed once its processes are gone; the caller stops the
        // workers first, and a group left behind is empty and harmless.
        for group in &self.groups {
            let _ = std::fs::remove_dir(group);
        }
    }
}

/// The path of this process's group in the v2 hierarchy: the `0::` line.
fn v2_path(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_path_is_the_unified_line_whatever_v1_lines_come_first() {
        let mixed = "4:memory:/process_api/144c\n1:cpu:/\n0::/user.slice/bench\n";
        assert_eq!(v2_path(mixed), Some("/user.slice/bench"));
        assert_eq!(v2_path("1:cpu:/\n"), None);
    }

    #[test]
    fn a_budget_the_kernel_cannot_set_is_refused_before_anything_is_made() {
        for millicores in [0, 9] {
            let err = CpuBudget::new(millicores).unwrap_err().to_string();
            assert!(err.contains("under 10 millicores"), "{err}");
        }
    }
}
