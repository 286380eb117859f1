//! `snapline images ...`, `snapline projects ...` and `snapline servers ...`: the shared
//! resources a server holds beside containers, and the nodes of its cluster.

use std::path::PathBuf;
use std::slice;

use clap::Subcommand;
use types::{
    CreateProject, ImageData, ImageList, ProjectData, ProjectList, ServerData, ServerList,
};

use super::{Client, Remote, enc, show, table};

#[derive(Debug, Subcommand)]
pub enum ImagesCmd {
    /// List images.
    List,
    /// Import a root filesystem tar (for example `docker export`); `-` reads stdin.
    Import {
        /// The image's name (1 to 64 of a-z 0-9 . _ -).
        #[arg(long)]
        name: String,
        /// The tar file, or `-` for standard input.
        file: PathBuf,
    },
    /// Publish a container's snapshot as an image (stores nothing new); containers created
    /// from it start exactly as the snapshot.
    Publish {
        /// The image's name.
        #[arg(long)]
        name: String,
        /// The container whose snapshot it is.
        #[arg(long)]
        container: String,
        /// The snapshot's name, or its alias.
        #[arg(long)]
        snapshot: String,
    },
    /// Delete an image. Containers made from it keep their files; a shared (built-in or
    /// imported) image needs an admin token.
    Delete {
        /// The image's name.
        name: String,
        /// The project whose image it is, when several projects you see have an image of
        /// that name (published images are named per project).
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCmd {
    /// List projects.
    List,
    /// Create a project (admin token).
    Create {
        /// The project's name.
        name: String,
    },
    /// Delete an empty project (admin token): refused while it holds containers, snapshots
    /// or published images.
    Delete {
        /// The project's id or name.
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServersCmd {
    /// List every node serving from the database, the one you talk to first: status
    /// (`active`, or `offline` after 20 seconds without a heartbeat), containers, free disk
    /// and store.
    List,
    /// One node.
    Get {
        /// The node's id (from `servers list`).
        id: String,
    },
}

pub async fn servers(remote: Remote, cmd: ServersCmd) -> anyhow::Result<()> {
    let c = Client::new(&remote)?;
    match cmd {
        ServersCmd::List => {
            let data: ServerList = c.call("GET", "/api/v1/servers").await?;
            show(&remote, &data, |d| table::servers(&d.servers))
        }
        ServersCmd::Get { id } => {
            let p = format!("/api/v1/servers/{}", enc(&id));
            let data: ServerData = c.call("GET", &p).await?;
            show(&remote, &data, |d| {
                table::servers(slice::from_ref(&d.server))
            })
        }
    }
}

/// Project names by id, for the images table (empty when the list cannot be read: the
/// table then shows ids).
async fn project_names(c: &Client) -> std::collections::HashMap<String, String> {
    match c.call::<ProjectList>("GET", "/api/v1/projects").await {
        Ok(list) => list.projects.into_iter().map(|p| (p.id, p.name)).collect(),
        Err(_) => Default::default(),
    }
}

pub async fn images(remote: Remote, cmd: ImagesCmd) -> anyhow::Result<()> {
    let c = Client::new(&remote)?;
    match cmd {
        ImagesCmd::List => {
            let data: ImageList = c.call("GET", "/api/v1/images").await?;
            let names = project_names(&c).await;
            show(&remote, &data, |d| table::images(&d.images, &names))
        }
        ImagesCmd::Import { name, file } => {
            let data = c.import(&name, &file).await?;
            let names = project_names(&c).await;
            show(&remote, &data, |d| {
                table::images(slice::from_ref(&d.image), &names)
            })
        }
        ImagesCmd::Publish {
            name,
            container,
            snapshot,
        } => {
            let body = types::PublishImage {
                name,
                from: types::ImageOrigin {
                    container_id: container,
                    snapshot,
                },
            };
            let data: ImageData = c.send("POST", "/api/v1/images", Some(&body)).await?;
            let names = project_names(&c).await;
            show(&remote, &data, |d| {
                table::images(slice::from_ref(&d.image), &names)
            })
        }
        ImagesCmd::Delete { name, project } => {
            let mut p = format!("/api/v1/images/{}", enc(&name));
            if let Some(project) = project {
                p.push_str(&format!("?project={}", enc(&project)));
            }
            let data: ImageData = c.call("DELETE", &p).await?;
            show(&remote, &data, |d| {
                println!(
                    "Deleted image {} (its space is freed when the background GC runs)",
                    d.image.name
                )
            })
        }
    }
}

pub async fn projects(remote: Remote, cmd: ProjectsCmd) -> anyhow::Result<()> {
    let c = Client::new(&remote)?;
    match cmd {
        ProjectsCmd::List => {
            let data: ProjectList = c.call("GET", "/api/v1/projects").await?;
            show(&remote, &data, |d| table::projects(&d.projects))
        }
        ProjectsCmd::Create { name } => {
            let body = CreateProject { name };
            let data: ProjectData = c.send("POST", "/api/v1/projects", Some(&body)).await?;
            show(&remote, &data, |d| {
                table::projects(slice::from_ref(&d.project))
            })
        }
        ProjectsCmd::Delete { project } => {
            let p = format!("/api/v1/projects/{}", enc(&project));
            let data: ProjectData = c.call("DELETE", &p).await?;
            show(&remote, &data, |d| {
                println!("Deleted project {} ({})", d.project.name, d.project.id)
            })
        }
    }
}
