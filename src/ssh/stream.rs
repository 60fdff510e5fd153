//! Remote commands whose output or input is a file: stdout streamed into a writer (with a
//! size cap), or a reader streamed into stdin. [`SshSession::exec`] keeps output in memory
//! under a small cap; an archive of a manager's swarm state can be larger than that.
//! Both run under one deadline for the whole transfer. Command lines are not logged.

use std::time::Duration;

use russh::ChannelMsg;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::exec::{Exit, RemoteCommand};
use super::{SshError, SshSession};

/// How much of a streamed command's stderr is kept (for its error message).
const STDERR_KEPT: usize = 64 * 1024;

/// How a streamed command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOutput {
    pub status: u32,
    pub signal: Option<String>,
    /// Bytes of stdout written to the writer (download) or kept (upload).
    pub stdout_bytes: u64,
    /// The first 64 KiB of stderr.
    pub stderr: Vec<u8>,
}

impl StreamOutput {
    pub fn success(&self) -> bool {
        self.status == 0 && self.signal.is_none()
    }
    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl SshSession {
    /// Runs `cmd` and writes its stdout into `out`, failing with
    /// [`SshError::TooMuchOutput`] past `limit` bytes and [`SshError::Timeout`] after
    /// `deadline` (for the whole transfer). `cmd`'s own timeout is not used.
    pub async fn exec_download<W: AsyncWrite + Unpin>(
        &self,
        cmd: &RemoteCommand,
        out: &mut W,
        limit: u64,
        deadline: Duration,
    ) -> Result<StreamOutput, SshError> {
        let what = format!("remote command `{}`", cmd.summary());
        self.stream(cmd, &what, deadline, None::<&[u8]>, Some((out, limit)))
            .await
    }

    /// Runs `cmd` with `input` streamed into its stdin (then EOF); its stdout is dropped
    /// (counted), its stderr kept for messages.
    pub async fn exec_upload<R: AsyncRead + Unpin>(
        &self,
        cmd: &RemoteCommand,
        input: R,
        deadline: Duration,
    ) -> Result<StreamOutput, SshError> {
        let what = format!("remote command `{}`", cmd.summary());
        self.stream(
            cmd,
            &what,
            deadline,
            Some(input),
            None::<(&mut tokio::io::Sink, u64)>,
        )
        .await
    }

    async fn stream<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &self,
        cmd: &RemoteCommand,
        what: &str,
        deadline: Duration,
        input: Option<R>,
        mut sink: Option<(&mut W, u64)>,
    ) -> Result<StreamOutput, SshError> {
        let line = cmd
            .command_line()
            .map_err(|reason| SshError::InvalidCommand {
                host: self.name().to_string(),
                reason,
            })?;
        tracing::debug!(host = %self.name(), command = %cmd.summary(), "exec (streamed)");
        let mut ch = self.open_session_channel().await?;
        let local_io = |e: std::io::Error| SshError::Protocol {
            host: self.name().to_string(),
            message: format!("{what}: writing its output here failed: {e}"),
        };
        let run = async {
            ch.exec(true, line.as_bytes())
                .await
                .map_err(|e| self.map_err(e, what))?;
            if let Some(input) = input {
                ch.data(input).await.map_err(|e| self.map_err(e, what))?;
            }
            ch.eof().await.map_err(|e| self.map_err(e, what))?;
            let mut out = StreamOutput {
                status: 255,
                signal: None,
                stdout_bytes: 0,
                stderr: Vec::new(),
            };
            let mut exit = Exit::default();
            while let Some(msg) = ch.wait().await {
                if exit.take(&msg, self, what).map_err(|e| *e)? {
                    continue;
                }
                match msg {
                    ChannelMsg::Data { data } => {
                        out.stdout_bytes += data.len() as u64;
                        if let Some((w, limit)) = sink.as_mut() {
                            if out.stdout_bytes > *limit {
                                return Err(SshError::TooMuchOutput {
                                    host: self.name().to_string(),
                                    what: what.to_string(),
                                    limit: *limit,
                                });
                            }
                            w.write_all(&data).await.map_err(local_io)?;
                        }
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        let room = STDERR_KEPT.saturating_sub(out.stderr.len());
                        out.stderr.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            if let Some((w, _)) = sink.as_mut() {
                w.flush().await.map_err(local_io)?;
            }
            let Some(status) = exit.status else {
                return Err(self.closed_error());
            };
            out.status = status;
            out.signal = exit.signal;
            Ok(out)
        };
        let res = tokio::time::timeout(deadline, run).await;
        self.settle(&ch, res, what, deadline).await
    }
}
