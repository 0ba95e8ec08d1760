//! A session event in a few fields a report shows: its kind, its channel, one line for a person, and the bytes a
//! file transfer moved.

use crate::events::{FileOperationKind, ForwardDirection, SessionEvent, TransferDirection};

impl SessionEvent {
    /// The event's machine name, the same as its `kind` field in the event log.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionEvent::Exec { .. } => "exec",
            SessionEvent::SubsystemStarted { .. } => "subsystem_started",
            SessionEvent::FileTransfer { .. } => "file_transfer",
            SessionEvent::FileOperation { .. } => "file_operation",
            SessionEvent::ForwardOpened { .. } => "forward_opened",
            SessionEvent::AgentChannelOpened { .. } => "agent_channel_opened",
            SessionEvent::ForwardClosed { .. } => "forward_closed",
            SessionEvent::WindowChange { .. } => "window_change",
            SessionEvent::SessionEnded { .. } => "session_ended",
        }
    }

    /// The SSH channel the event happened on, when it names one.
    pub fn channel(&self) -> Option<u32> {
        match self {
            SessionEvent::SubsystemStarted { channel, .. }
            | SessionEvent::FileTransfer { channel, .. }
            | SessionEvent::FileOperation { channel, .. }
            | SessionEvent::ForwardOpened { channel, .. }
            | SessionEvent::AgentChannelOpened { channel }
            | SessionEvent::ForwardClosed { channel } => Some(*channel),
            SessionEvent::Exec { .. } | SessionEvent::WindowChange { .. } | SessionEvent::SessionEnded { .. } => None,
        }
    }

    /// One line for a person: the command, the file and which way it went, the forwarded host, the new size.
    pub fn summary(&self) -> String {
        match self {
            SessionEvent::Exec { command } => command.clone(),
            SessionEvent::SubsystemStarted { name, .. } => name.clone(),
            SessionEvent::FileTransfer { direction, path, .. } => {
                let arrow = match direction {
                    TransferDirection::Upload => "upload",
                    TransferDirection::Download => "download",
                };
                format!("{arrow} {path}")
            }
            SessionEvent::FileOperation { operation, path, target, .. } => {
                let verb = match operation {
                    FileOperationKind::Remove => "remove",
                    FileOperationKind::Rename => "rename",
                    FileOperationKind::Mkdir => "mkdir",
                    FileOperationKind::Rmdir => "rmdir",
                    FileOperationKind::Setstat => "setstat",
                    FileOperationKind::Symlink => "symlink",
                    FileOperationKind::Link => "link",
                };
                match target {
                    Some(target) => format!("{verb} {path} -> {target}"),
                    None => format!("{verb} {path}"),
                }
            }
            SessionEvent::ForwardOpened { direction, host, port, .. } => {
                let flag = match direction {
                    ForwardDirection::Local => "-L",
                    ForwardDirection::Remote => "-R",
                };
                format!("{flag} {host}:{port}")
            }
            SessionEvent::AgentChannelOpened { .. } => "agent".to_owned(),
            SessionEvent::ForwardClosed { channel } => format!("channel {channel}"),
            SessionEvent::WindowChange { cols, rows } => format!("{cols}x{rows}"),
            SessionEvent::SessionEnded { reason } => reason.clone(),
        }
    }

    /// The event as one JSON object, as in the event log.
    pub fn to_json(&self) -> String {
        // Strings, numbers and enums only: encoding cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The bytes a file transfer moved; `None` for every other event.
    pub fn bytes(&self) -> Option<u64> {
        match self {
            SessionEvent::FileTransfer { bytes, .. } => Some(*bytes),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::events::{FileProtocol, SessionEvent, TransferDirection};
    use crate::{FileOperationKind, ForwardDirection};

    fn every_kind() -> Vec<SessionEvent> {
        vec![
            SessionEvent::Exec { command: "uptime".into() },
            SessionEvent::SubsystemStarted { channel: 1, name: "sftp".into() },
            SessionEvent::FileTransfer {
                channel: 1,
                protocol: FileProtocol::Scp,
                direction: TransferDirection::Download,
                path: "/var/log/syslog".into(),
                bytes: 4096,
            },
            SessionEvent::FileOperation {
                channel: 1,
                protocol: FileProtocol::Sftp,
                operation: FileOperationKind::Rename,
                path: "a".into(),
                target: Some("b".into()),
            },
            SessionEvent::ForwardOpened {
                channel: 3,
                direction: ForwardDirection::Local,
                host: "db".into(),
                port: 5432,
            },
            SessionEvent::AgentChannelOpened { channel: 4 },
            SessionEvent::ForwardClosed { channel: 3 },
            SessionEvent::WindowChange { cols: 120, rows: 40 },
            SessionEvent::SessionEnded { reason: "grant_expired".into() },
        ]
    }

    #[test]
    fn the_kind_is_the_event_logs_kind_field() {
        for event in every_kind() {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["kind"], event.kind(), "{event:?}");
            assert_eq!(serde_json::from_str::<SessionEvent>(&event.to_json()).unwrap(), event);
        }
    }

    #[test]
    fn summaries_read_as_a_person_would_write_them() {
        let summaries: Vec<String> = every_kind().iter().map(SessionEvent::summary).collect();
        assert_eq!(
            summaries,
            [
                "uptime",
                "sftp",
                "download /var/log/syslog",
                "rename a -> b",
                "-L db:5432",
                "agent",
                "channel 3",
                "120x40",
                "grant_expired"
            ]
        );
        let bytes: Vec<Option<u64>> = every_kind().iter().map(SessionEvent::bytes).collect();
        assert_eq!(bytes.iter().flatten().collect::<Vec<_>>(), [&4096]);
        assert_eq!(every_kind()[0].channel(), None);
        assert_eq!(every_kind()[2].channel(), Some(1));
    }
}
