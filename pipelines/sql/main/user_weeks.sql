-- Each user's activity in each week, zero weeks included, from the week of invited_at to as_of.
-- Grain: one row per user and week. Key: user_id, week.
with build_window as (
    select as_of, window_end from core.build_window
),

users as (
    select * from core.users
),

spine as (
    select
        users.user_id,
        users.site_id,
        users.deactivated_at,
        unnest(generate_series(
            date_trunc('week', users.invited_at)::date,
            build_window.as_of,
            interval 7 day
        ))::date as week
    from users
    cross join build_window
    where users.invited_at < build_window.window_end
),

event_weeks as (
    select
        user_id,
        date_trunc('week', event_date)::date as week,
        sum(events)::bigint as n_events,
        count(*) as n_active_days
    from core.event_days
    where event_date < (select window_end from build_window)
    group by user_id, date_trunc('week', event_date)::date
),

ticket_weeks as (
    select
        user_id,
        date_trunc('week', created_at)::date as week,
        count(*) as n_tickets
    from core.tickets
    where user_id is not null
        and created_at < (select window_end from build_window)
    group by user_id, date_trunc('week', created_at)::date
),

final as (
    select
        spine.user_id,
        spine.site_id,
        spine.week,
        coalesce(event_weeks.n_events, 0) as events,
        coalesce(event_weeks.n_active_days, 0) as active_days,
        coalesce(ticket_weeks.n_tickets, 0) as tickets,
        spine.deactivated_at is null or spine.deactivated_at >= spine.week + interval 7 day as is_enrolled
    from spine
    left join event_weeks on spine.user_id = event_weeks.user_id and spine.week = event_weeks.week
    left join ticket_weeks on spine.user_id = ticket_weeks.user_id and spine.week = ticket_weeks.week
)

select * from final
order by user_id, week
