//! The run's own PostgreSQL cluster: `initdb`, `pg_ctl start` and `stop`, run as the
//! `postgres` user when this process is root (PostgreSQL refuses to run as root).

use std::process::{Command, Stdio};

use anyhow::Context as _;

use crate::Cluster;

impl Cluster {
    // --- PostgreSQL ----------------------------------------------------------------------

    fn pg_tool(&self, tool: &str) -> Command {
        let path = self.pg_bin.join(tool);
        match &self.pg_user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    /// A fresh cluster in the run's directory: trust auth, listening on loopback only.
    /// Creates the cluster's data directory with `initdb`.
    pub fn init_postgres(&self) -> anyhow::Result<()> {
        let data = self.dir.join("pg");
        std::fs::create_dir_all(&data)?;
        if self.pg_user.is_some() {
            let owner = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&self.dir)
                .status()?;
            anyhow::ensure!(
                owner.success(),
                "cannot hand the run's directory to postgres"
            );
        }
        let status = self
            .pg_tool("initdb")
            .arg("-D")
            .arg(&data)
            .args(["--auth=trust", "-U", "postgres", "--no-sync"])
            .stdout(self.log("initdb")?)
            .stderr(self.log("initdb")?)
            .status()
            .context("cannot run initdb")?;
        anyhow::ensure!(status.success(), "initdb failed (see initdb.log)");
        Ok(())
    }

    /// Starts the cluster; `settings` are extra `-c name=value` server settings.
    pub fn start_postgres(&self, settings: &[&str]) -> anyhow::Result<()> {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on",
            self.pg_port,
            self.dir.join("pg").display()
        );
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let status = self
            .pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("pg"))
            .args(["-o", &options, "-w", "-t", "60", "-l"])
            .arg(self.dir.join("pg").join("server.log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .context("cannot run pg_ctl start")?;
        anyhow::ensure!(status.success(), "PostgreSQL did not start");
        Ok(())
    }

    /// `immediate` is a crash (no checkpoint, recovery at the next start); `fast` a clean stop.
    pub fn stop_postgres(&self, immediate: bool) -> anyhow::Result<()> {
        let status = self
            .pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("pg"))
            .args([
                "-m",
                if immediate { "immediate" } else { "fast" },
                "-w",
                "stop",
            ])
            .stdout(Stdio::null())
            .status()
            .context("cannot run pg_ctl stop")?;
        anyhow::ensure!(status.success(), "PostgreSQL did not stop");
        Ok(())
    }
}
