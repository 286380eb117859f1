//! A container's buttons and create form: the actions they send, what the page says they
//! did, and the resource limits typed into the form.

use serde::{Deserialize, Serialize};

/// The limits a create form asks for: each field empty takes the default; `None` when all
/// are empty. A value that is not a number is refused here; the server checks the bounds.
pub fn limits_from_form(
    memory_mb: Option<&str>,
    pids: Option<&str>,
    cpus: Option<&str>,
) -> Result<Option<types::ContainerLimits>, crate::AppError> {
    fn field<T: std::str::FromStr>(
        v: Option<&str>,
        what: &str,
        like: &str,
    ) -> Result<Option<T>, crate::AppError> {
        match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                crate::AppError::BadRequest(format!(
                    "{what} must be a number, like {like} (got {v:?})."
                ))
            }),
        }
    }
    let memory_mb = field::<u64>(memory_mb, "Memory (MiB)", "512")?;
    let pids = field::<u64>(pids, "Processes", "256")?;
    let cpus = field::<f64>(cpus, "CPUs", "1.5")?;
    if memory_mb.is_none() && pids.is_none() && cpus.is_none() {
        return Ok(None);
    }
    let d = types::ContainerLimits::default();
    Ok(Some(types::ContainerLimits {
        memory_mb: memory_mb.unwrap_or(d.memory_mb),
        pids: pids.unwrap_or(d.pids),
        cpus: cpus.unwrap_or(d.cpus),
    }))
}

/// What the containers page's and the timeline's buttons do to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerOp {
    Start,
    Stop,
    Pause,
    Resume,
    Delete,
}

impl ContainerOp {
    /// The word a form sends (`start`, `stop`, `pause`, `resume`, `delete`), which is also
    /// the REST route's last part for all but delete.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerOp::Start => "start",
            ContainerOp::Stop => "stop",
            ContainerOp::Pause => "pause",
            ContainerOp::Resume => "resume",
            ContainerOp::Delete => "delete",
        }
    }
}

/// What a container button did: the outcome the page says in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerActed {
    pub op: ContainerOp,
    pub id: String,
    /// The container's name as the page showed it.
    pub name: String,
}

impl ContainerActed {
    /// The sentence: "Stopped web." / "Deleted web. Its snapshots stay: …".
    pub fn said(&self) -> String {
        let name = &self.name;
        match self.op {
            ContainerOp::Start => format!("Started {name}."),
            ContainerOp::Stop => format!("Stopped {name}."),
            ContainerOp::Pause => format!("Paused {name}."),
            ContainerOp::Resume => format!("Resumed {name}."),
            ContainerOp::Delete => format!(
                "Deleted {name}. Its snapshots stay, listed under deleted containers, until you delete them."
            ),
        }
    }
}

impl std::str::FromStr for ContainerOp {
    type Err = crate::AppError;

    /// Reads a form's word; anything else is a bad request that names the choices.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "start" => Ok(ContainerOp::Start),
            "stop" => Ok(ContainerOp::Stop),
            "pause" => Ok(ContainerOp::Pause),
            "resume" => Ok(ContainerOp::Resume),
            "delete" => Ok(ContainerOp::Delete),
            other => Err(crate::AppError::BadRequest(format!(
                "Unknown action {other:?}: use start, stop, pause, resume or delete."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_a_create_form() {
        assert_eq!(limits_from_form(None, Some(" "), Some("")).unwrap(), None);
        let l = limits_from_form(Some("512"), None, Some("1.5"))
            .unwrap()
            .unwrap();
        assert_eq!((l.memory_mb, l.pids, l.cpus), (512, 1024, 1.5));
        let e = limits_from_form(Some("lots"), None, None).unwrap_err();
        assert!(
            e.to_string().contains("Memory (MiB) must be a number"),
            "{e}"
        );
    }
}
