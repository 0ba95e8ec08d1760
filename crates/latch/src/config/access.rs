//! `[access]`: break-glass, the emergency access members of one group may switch on for named targets.

use super::FileName;
use super::dto::AccessSection;
use crate::UsageError;
use latch_app::BreakGlassConfig;
use latch_domain::TimeSpan;
use latch_domain::names::GroupName;

const DEFAULT_MAX_MINUTES: i64 = 240;
const MAX_MINUTES: i64 = 1440;

/// The break-glass settings; `None` (break-glass off) without `break_glass_group`.
pub(super) fn resolve(section: &AccessSection, name: &FileName<'_>) -> Result<Option<BreakGlassConfig>, UsageError> {
    let Some(group) = &section.break_glass_group else {
        if section.break_glass_max_minutes.is_some() {
            return Err(UsageError(format!(
                "{} needs access.break_glass_group",
                name.key("access.break_glass_max_minutes")
            )));
        }
        return Ok(None);
    };
    let group = GroupName::parse(group)
        .map_err(|err| UsageError(format!("{}: {err}", name.key("access.break_glass_group"))))?;
    let minutes = section.break_glass_max_minutes.unwrap_or(DEFAULT_MAX_MINUTES);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(UsageError(format!(
            "{} must be between 1 and {MAX_MINUTES}, not {minutes}",
            name.key("access.break_glass_max_minutes")
        )));
    }
    Ok(Some(BreakGlassConfig { group, max_duration: TimeSpan::from_minutes(minutes) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(group: Option<&str>, minutes: Option<i64>) -> AccessSection {
        AccessSection { break_glass_group: group.map(str::to_owned), break_glass_max_minutes: minutes }
    }

    #[test]
    fn break_glass_is_read_and_checked() {
        let name = FileName(None);
        assert_eq!(resolve(&section(None, None), &name).unwrap(), None);
        let on = resolve(&section(Some("OnCall"), None), &name).unwrap().unwrap();
        assert_eq!((on.group.as_str(), on.max_duration), ("oncall", TimeSpan::from_minutes(240)));
        let short = resolve(&section(Some("oncall"), Some(30)), &name).unwrap().unwrap();
        assert_eq!(short.max_duration, TimeSpan::from_minutes(30));
        assert!(resolve(&section(Some("oncall"), Some(1440)), &name).is_ok());
        for (group, minutes, needle) in [
            (Some("oncall"), Some(0), "between 1 and 1440"),
            (Some("oncall"), Some(1441), "between 1 and 1440"),
            (Some("on call"), None, "access.break_glass_group"),
            (None, Some(60), "needs access.break_glass_group"),
        ] {
            let err = resolve(&section(group, minutes), &name).unwrap_err().0;
            assert!(err.contains(needle), "{group:?} {minutes:?}: {err}");
        }
    }
}
