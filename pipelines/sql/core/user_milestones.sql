-- When each user first used the product, first did a key action (first value) and first
-- became habitual (active in 3 of 4 consecutive weeks, counted from the week of first value,
-- or of activation when the features input names no key action), up to as_of.
-- Grain: one row per user invited by as_of. Key: user_id.
with build_window as (
    select window_end from core.build_window
),

windows as (
    select * from core.journey_windows
),

key_actions as (
    select event_name from core.features where is_key_action
),

users as (
    select user_id, site_id, role, invited_at, deactivated_at
    from core.users
    where invited_at < (select window_end from build_window)
),

days as (
    select user_id, event_date, first_event_at
    from core.event_days
    where event_date < (select window_end from build_window)
),

activation as (
    select user_id, min(first_event_at) as activated_at
    from days
    group by user_id
),

first_value as (
    select user_event_days.user_id, min(user_event_days.first_event_at) as first_value_at
    from core.user_event_days as user_event_days
    semi join key_actions on user_event_days.event_name = key_actions.event_name
    where user_event_days.event_date < (select window_end from build_window)
    group by user_event_days.user_id
),

habit_start as (
    select
        activation.user_id,
        date_trunc('week', case
            when (select first_value_defined from windows) then first_value.first_value_at
            else activation.activated_at
        end)::date as start_week
    from activation
    left join first_value on activation.user_id = first_value.user_id
),

active_weeks as (
    select
        days.user_id,
        date_trunc('week', days.event_date)::date as active_week,
        min(days.first_event_at) as first_event_at
    from days
    inner join habit_start on days.user_id = habit_start.user_id
    where days.event_date >= habit_start.start_week
    group by days.user_id, active_week
),

rolling as (
    select
        *,
        count(*) over (
            partition by user_id order by active_week
            range between interval 21 day preceding and current row
        ) as active_in_4
    from active_weeks
),

habit as (
    select user_id, min(first_event_at) as habitual_at
    from rolling
    where active_in_4 >= (select habitual_active_weeks from windows)
    group by user_id
),

final as (
    select
        users.user_id,
        users.site_id,
        users.role,
        users.invited_at,
        users.deactivated_at,
        activation.activated_at,
        first_value.first_value_at,
        habit.habitual_at
    from users
    left join activation on users.user_id = activation.user_id
    left join first_value on users.user_id = first_value.user_id
    left join habit on users.user_id = habit.user_id
)

select * from final
order by user_id
