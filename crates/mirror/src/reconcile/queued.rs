//! The ids a run queued, for whoever waits for the workers to apply them: held in memory up
//! to [`IN_MEMORY`], then written to a temporary file, so a run that repairs a million
//! objects does not hold a million ids.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};

/// Ids kept in memory before they go to the file.
const IN_MEMORY: usize = 4_096;

/// The ids a run queued, in order. Clones share the file, which goes with the last of them.
#[derive(Debug, Clone, Default)]
pub struct Queued {
    count: usize,
    file: Option<Arc<tempfile::TempPath>>,
    memory: Vec<String>,
}

impl Queued {
    /// How many.
    pub fn len(&self) -> usize {
        self.count
    }

    /// None.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// One more, written out with the others once memory holds [`IN_MEMORY`].
    pub(super) async fn push(&mut self, id: String) -> std::io::Result<()> {
        self.count += 1;
        self.memory.push(id);
        if self.memory.len() >= IN_MEMORY {
            self.spill().await?;
        }
        Ok(())
    }

    async fn spill(&mut self) -> std::io::Result<()> {
        let path = match &self.file {
            Some(path) => path.clone(),
            None => {
                let path = tokio::task::spawn_blocking(|| {
                    tempfile::Builder::new()
                        .prefix("clerk-sync-reconcile-")
                        .tempfile()
                        .map(tempfile::NamedTempFile::into_temp_path)
                })
                .await
                .map_err(std::io::Error::other)??;
                let path = Arc::new(path);
                self.file = Some(path.clone());
                path
            }
        };
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&**path)
            .await?;
        let mut text = String::with_capacity(self.memory.len() * 48);
        for id in self.memory.drain(..) {
            text.push_str(&id);
            text.push('\n');
        }
        file.write_all(text.as_bytes()).await?;
        file.flush().await
    }

    /// Reads them back, in order, a chunk at a time.
    pub async fn reader(&self) -> std::io::Result<QueuedIds<'_>> {
        let lines = match &self.file {
            Some(path) => Some(BufReader::new(tokio::fs::File::open(&***path).await?).lines()),
            None => None,
        };
        Ok(QueuedIds {
            lines,
            memory: self.memory.iter(),
        })
    }
}

/// [`Queued`] read back.
pub struct QueuedIds<'a> {
    lines: Option<Lines<BufReader<tokio::fs::File>>>,
    memory: std::slice::Iter<'a, String>,
}

impl QueuedIds<'_> {
    /// The next `size` ids at most; empty at the end.
    pub async fn next_chunk(&mut self, size: usize) -> std::io::Result<Vec<String>> {
        let mut chunk = Vec::with_capacity(size);
        if let Some(lines) = &mut self.lines {
            while chunk.len() < size {
                match lines.next_line().await? {
                    Some(id) => chunk.push(id),
                    None => {
                        self.lines = None;
                        break;
                    }
                }
            }
        }
        chunk.extend(self.memory.by_ref().take(size - chunk.len()).cloned());
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_past_memory_go_to_a_file_and_come_back_in_order() {
        let mut queued = Queued::default();
        let n = IN_MEMORY * 2 + 10;
        for i in 0..n {
            queued
                .push(format!("reconcile:user:user_{i}:1:2"))
                .await
                .unwrap();
        }
        assert_eq!(queued.len(), n);
        assert!(queued.memory.len() < IN_MEMORY);
        let mut reader = queued.reader().await.unwrap();
        let mut back = Vec::new();
        loop {
            let chunk = reader.next_chunk(1_000).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            back.extend(chunk);
        }
        assert_eq!(back.len(), n);
        assert_eq!(back[0], "reconcile:user:user_0:1:2");
        assert_eq!(back[n - 1], format!("reconcile:user:user_{}:1:2", n - 1));
    }
}
