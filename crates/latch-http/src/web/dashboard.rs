//! The dashboard page: what is live now (sessions, grants in force, requests waiting), sessions and failed logins
//! per day as bar charts, and the busiest targets and users. The numbers come from the same `dashboard` use case
//! as the API; the charts are SVG drawn here (no script, no inline style).

use super::pages::{Layout, PageError, Section, render};
use super::session::WebUser;
use crate::HttpState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use latch_app::{DayCount, NameCount};

/// The periods the page offers, in days.
const PERIODS: [u32; 3] = [7, 14, 30];
const DEFAULT_DAYS: u32 = 14;
/// The drawing area of a chart, in SVG units.
const CHART_WIDTH: u32 = 700;
const CHART_HEIGHT: u32 = 160;

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct DashboardQuery {
    days: Option<u32>,
}

/// One bar of a chart, positioned in SVG units.
#[derive(Debug)]
struct Bar {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    count: i64,
    /// `11-23`, under the bar.
    label: String,
    /// `2026-11-23: 4`, the bar's tooltip.
    title: String,
    /// Label only every few bars when there are many.
    labelled: bool,
}

#[derive(Debug)]
struct Chart {
    id: &'static str,
    title: &'static str,
    total: i64,
    peak: i64,
    bars: Vec<Bar>,
}

impl Chart {
    fn new(id: &'static str, title: &'static str, days: &[DayCount]) -> Chart {
        let peak = days.iter().map(|day| day.count).max().unwrap_or(0);
        let slots = u32::try_from(days.len().max(1)).unwrap_or(1);
        let slot = CHART_WIDTH / slots;
        let width = (slot * 3 / 4).max(2);
        let label_every = (slots / 10).max(1);
        let bars = days
            .iter()
            .zip(0_u32..)
            .map(|(day, index)| {
                let date = crate::views::time(day.day);
                let height = if peak == 0 {
                    0
                } else {
                    let scaled = day.count.saturating_mul(i64::from(CHART_HEIGHT)) / peak;
                    u32::try_from(scaled).unwrap_or(CHART_HEIGHT).max(u32::from(day.count > 0))
                };
                Bar {
                    x: index * slot + (slot - width) / 2,
                    y: CHART_HEIGHT - height,
                    width,
                    height,
                    count: day.count,
                    label: date.get(5..10).unwrap_or_default().to_owned(),
                    title: format!("{}: {}", date.get(..10).unwrap_or_default(), day.count),
                    labelled: index % label_every == 0 || index + 1 == slots,
                }
            })
            .collect();
        Chart { id, title, total: days.iter().map(|day| day.count).sum(), peak, bars }
    }
}

#[derive(Debug)]
struct Ranking {
    name: String,
    count: i64,
    /// Share of the first one, 0 to 100, drawn as a bar.
    share: u32,
}

fn ranking(counts: &[NameCount]) -> Vec<Ranking> {
    let top = counts.iter().map(|entry| entry.count).max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|entry| Ranking {
            name: entry.name.clone(),
            count: entry.count,
            share: u32::try_from(entry.count.saturating_mul(100) / top).unwrap_or(100),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    days: u32,
    periods: [u32; 3],
    live_sessions: i64,
    active_grants: i64,
    pending_requests: i64,
    charts: Vec<Chart>,
    top_targets: Vec<Ranking>,
    top_users: Vec<Ranking>,
    chart_width: u32,
    chart_height: u32,
}

/// `GET /dashboard?days=N`: for holders of `sessions:read`.
pub(crate) async fn show(
    State(state): State<HttpState>,
    user: WebUser,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, PageError> {
    let days = query.days.unwrap_or(DEFAULT_DAYS);
    let dashboard = state.app.dashboard(&user.principal, days).await?;
    let charts = vec![
        Chart::new("sessions-chart", "Sessions per day", &dashboard.sessions_per_day),
        Chart::new("failed-logins-chart", "Failed logins per day", &dashboard.failed_logins_per_day),
    ];
    let page = DashboardPage {
        layout: Layout::signed_in(&user, "Dashboard", Section::Dashboard),
        days: dashboard.days,
        periods: PERIODS,
        live_sessions: dashboard.live_sessions,
        active_grants: dashboard.active_grants,
        pending_requests: dashboard.pending_requests,
        charts,
        top_targets: ranking(&dashboard.top_targets),
        top_users: ranking(&dashboard.top_users),
        chart_width: CHART_WIDTH,
        chart_height: CHART_HEIGHT,
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_domain::Timestamp;

    #[test]
    fn bars_scale_to_the_busiest_day_and_a_quiet_day_still_shows() {
        let day = |n: i64, count| DayCount { day: Timestamp::from_millis(n * 86_400_000), count };
        let chart = Chart::new("c", "Sessions", &[day(0, 0), day(1, 1), day(2, 100)]);
        assert_eq!((chart.total, chart.peak), (101, 100));
        let heights: Vec<u32> = chart.bars.iter().map(|bar| bar.height).collect();
        assert_eq!(heights, vec![0, 1, CHART_HEIGHT]);
        assert!(chart.bars.iter().all(|bar| bar.y + bar.height == CHART_HEIGHT && bar.x + bar.width <= CHART_WIDTH));
        assert_eq!(chart.bars[2].title, "1970-01-03: 100");
        let empty = Chart::new("c", "Sessions", &[day(0, 0)]);
        assert_eq!(empty.bars[0].height, 0);

        let ranked = ranking(&[
            NameCount { name: "db01".to_owned(), count: 8 },
            NameCount { name: "web01".to_owned(), count: 2 },
        ]);
        assert_eq!((ranked[0].share, ranked[1].share), (100, 25));
    }
}
