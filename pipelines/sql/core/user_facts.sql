-- materialized: macro(window_end)
-- What each user's status rests on besides weekly counts, as known at `window_end` (the
-- midnight after an as_of week; the build asks at its own week, the backtest and `adoption
-- evaluate` at past ones): invitation and seat, first and last use, last ticket, training.
-- Grain: one row per user invited before window_end. Key: user_id.
with activity as (
    -- window_end is a midnight, so the days before it hold exactly the events before it
    select user_id, min(first_event_at) as first_active_at, max(last_event_at) as last_active_at
    from core.event_days
    where event_date < window_end
    group by user_id
),

tickets as (
    select user_id, max(created_at) as last_ticket_at
    from core.tickets
    where user_id is not null and created_at < window_end
    group by user_id
),

trained as (
    -- attended a session themselves, or their site had a whole-site session
    select distinct users.user_id
    from core.users as users
    inner join core.trainings as trainings
        on trainings.site_id = users.site_id
        and (trainings.user_id = users.user_id or trainings.is_site_session)
    where trainings.attended
        and trainings.session_date < window_end
        and trainings.session_date >= users.invited_at::date
),

final as (
    select
        users.user_id,
        users.site_id,
        users.role,
        users.invited_at,
        users.deactivated_at,
        activity.first_active_at,
        activity.last_active_at,
        tickets.last_ticket_at,
        trained.user_id is not null as trained
    from core.users as users
    left join activity on users.user_id = activity.user_id
    left join tickets on users.user_id = tickets.user_id
    left join trained on users.user_id = trained.user_id
    where users.invited_at < window_end
)

select * from final
order by user_id
