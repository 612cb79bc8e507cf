-- Each site's activity in each week, from its go-live or first invitation, whichever
-- is earlier, to as_of.
-- Grain: one row per site and week. Key: site_id, week.
with build_window as (
    select as_of, window_end from core.build_window
),

site_starts as (
    select
        sites.site_id,
        least(
            date_trunc('week', sites.go_live_date)::date,
            date_trunc('week', min(users.invited_at))::date
        ) as first_week
    from core.sites as sites
    left join core.users as users on sites.site_id = users.site_id
    group by sites.site_id, sites.go_live_date
),

spine as (
    select
        site_starts.site_id,
        unnest(generate_series(site_starts.first_week, build_window.as_of, interval 7 day))::date as week
    from site_starts
    cross join build_window
    where site_starts.first_week <= build_window.as_of
),

user_activity as (
    select
        site_id,
        week,
        count(*) filter (where is_enrolled) as n_users,
        count(*) filter (where is_enrolled and events > 0) as n_active_users,
        sum(events) as n_events
    from main.user_weeks
    group by site_id, week
),

ticket_weeks as (
    select
        site_id,
        date_trunc('week', created_at)::date as week,
        count(*) as n_tickets
    from core.tickets
    where created_at < (select window_end from build_window)
    group by site_id, date_trunc('week', created_at)::date
),

final as (
    select
        spine.site_id,
        spine.week,
        coalesce(user_activity.n_users, 0) as users,
        coalesce(user_activity.n_active_users, 0) as active_users,
        coalesce(user_activity.n_events, 0)::bigint as events,
        coalesce(ticket_weeks.n_tickets, 0) as tickets
    from spine
    left join user_activity on spine.site_id = user_activity.site_id and spine.week = user_activity.week
    left join ticket_weeks on spine.site_id = ticket_weeks.site_id and spine.week = ticket_weeks.week
)

select * from final
order by site_id, week
