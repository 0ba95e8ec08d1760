//! `latch groups …`

use super::{OutputArgs, connection, show};
use latch_api::{CreateGroupRequest, GroupDetailsView, GroupListView, GroupView, UpdateGroupRequest};
use std::process::ExitCode;

/// `latch groups`
#[derive(clap::Args, Debug)]
pub struct GroupsArgs {
    #[command(subcommand)]
    command: GroupsCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum GroupsCommand {
    /// List groups.
    List,
    /// Show a group (by name or id) and its members.
    Show { group: String },
    /// Create a group whose members get its roles.
    Create {
        name: String,
        /// A role: admin, auditor, approver or user (repeat for several).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        #[arg(long, value_name = "TEXT", default_value = "")]
        description: String,
    },
    /// Change a group's description or roles.
    Update {
        group: String,
        /// Replace the group's roles with these (repeat for several).
        #[arg(long = "role", value_name = "ROLE", conflicts_with = "clear_roles")]
        roles: Vec<String>,
        /// Remove every role.
        #[arg(long)]
        clear_roles: bool,
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// Delete a group (its members keep their direct roles).
    Rm { group: String },
    /// Add a user to a group.
    AddMember { group: String, user: String },
    /// Remove a user from a group.
    RemoveMember { group: String, user: String },
}

pub async fn run(args: GroupsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        GroupsCommand::List => show::result(json, &client.list_groups().await?, print_groups)?,
        GroupsCommand::Show { group } => show::result(json, &client.get_group(&group).await?, print_details)?,
        GroupsCommand::Create { name, roles, description } => {
            let group = client.create_group(&CreateGroupRequest { name, description, roles }).await?;
            show::result(json, &group, print_group)?;
        }
        GroupsCommand::Update { group, roles, clear_roles, description } => {
            let roles = if clear_roles { Some(Vec::new()) } else { Some(roles).filter(|r| !r.is_empty()) };
            let updated = client.update_group(&group, &UpdateGroupRequest { description, roles }).await?;
            show::result(json, &updated, print_group)?;
        }
        GroupsCommand::Rm { group } => {
            client.delete_group(&group).await?;
            done(json, serde_json::json!({ "deleted": group }), &format!("Deleted {group}."))?;
        }
        GroupsCommand::AddMember { group, user } => {
            client.add_group_member(&group, &user).await?;
            let value = serde_json::json!({ "group": group, "added": user });
            done(json, value, &format!("Added {user} to {group}."))?;
        }
        GroupsCommand::RemoveMember { group, user } => {
            client.remove_group_member(&group, &user).await?;
            let value = serde_json::json!({ "group": group, "removed": user });
            done(json, value, &format!("Removed {user} from {group}."))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn done(json: bool, value: serde_json::Value, text: &str) -> anyhow::Result<()> {
    show::result(json, &value, |_| show::line(text))
}

fn print_groups(list: &GroupListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["NAME", "ROLES", "DESCRIPTION"]);
    for group in &list.groups {
        table.row(vec![group.name.clone(), show::list(&group.roles), group.description.clone()]);
    }
    table.print()
}

fn print_group(group: &GroupView) -> std::io::Result<()> {
    show::fields(&group_fields(group))
}

fn group_fields(group: &GroupView) -> Vec<(&'static str, String)> {
    vec![
        ("name", group.name.clone()),
        ("id", group.id.clone()),
        ("roles", show::list(&group.roles)),
        ("description", show::optional(Some(&group.description))),
        ("created", group.created_at.clone()),
    ]
}

fn print_details(details: &GroupDetailsView) -> std::io::Result<()> {
    let members: Vec<String> = details.members.iter().map(|user| user.username.clone()).collect();
    let mut fields = group_fields(&details.group);
    fields.push(("members", show::list(&members)));
    show::fields(&fields)
}
