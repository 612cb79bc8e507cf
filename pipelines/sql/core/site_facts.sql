-- materialized: macro(as_of, recent_weeks, trend_weeks)
-- The counts a site's health score is made of, as of the week `as_of`: its enrolled users
-- by status (from main.user_status, so the runner creates it once that stage has run),
-- its weekly active users and tickets over the last `recent_weeks` and `trend_weeks` weeks.
-- Grain: one row per site. Key: site_id.
with statuses as (
    select
        site_id,
        count(*) as n_users,
        count(*) filter (where status = 'quiet') as n_quiet,
        count(*) filter (where status = 'silent_churn') as n_silent_churn,
        count(*) filter (where status = 'never_activated') as n_never_activated,
        count(*) filter (where trained) as n_trained
    from main.user_status
    where status <> 'deactivated'
    group by site_id
),

weeks as (
    select
        site_weeks.site_id,
        sum(site_weeks.active_users) filter (where site_weeks.week = as_of) as n_active,
        count(*) filter (where site_weeks.week > as_of - to_weeks(trend_weeks)) as n_trend_weeks,
        sum(site_weeks.active_users) filter (
            where site_weeks.week > as_of - to_weeks(recent_weeks)
        ) as n_recent_active_weeks,
        sum(site_weeks.active_users) filter (
            where site_weeks.week > as_of - to_weeks(trend_weeks)
        ) as n_trend_active_weeks,
        sum(site_weeks.tickets) filter (
            where site_weeks.week > as_of - to_weeks(recent_weeks)
        ) as n_recent_tickets
    from main.site_weeks as site_weeks
    group by site_weeks.site_id
),

final as (
    select
        sites.site_id,
        sites.site_name as name,
        sites.owner,
        as_of::date as as_of,
        sites.licensed_seats,
        coalesce(statuses.n_users, 0) as users,
        coalesce(weeks.n_active, 0)::bigint as active_users,
        coalesce(statuses.n_quiet, 0) as quiet_users,
        coalesce(statuses.n_silent_churn, 0) as silent_churn_users,
        coalesce(statuses.n_never_activated, 0) as never_activated_users,
        coalesce(statuses.n_trained, 0) as trained_users,
        coalesce(weeks.n_trend_weeks, 0) as trend_weeks,
        coalesce(weeks.n_recent_active_weeks, 0)::bigint as recent_active_weeks,
        coalesce(weeks.n_trend_active_weeks, 0)::bigint as trend_active_weeks,
        coalesce(weeks.n_recent_tickets, 0)::bigint as recent_tickets
    from core.sites as sites
    left join statuses on sites.site_id = statuses.site_id
    left join weeks on sites.site_id = weeks.site_id
)

select * from final
order by site_id
