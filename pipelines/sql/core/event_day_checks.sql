-- materialized: view
-- Every typed event_days row with the reason it cannot be used, if any: the checks of
-- event_checks on a day instead of a time, and a user, day and event name given twice.
-- Grain: one row per input row. Key: source_file, row_number.
with event_days as (
    select * from staging.event_days
),

users as (
    select user_id, invited_at from core.users
),

ranked as (
    select
        event_days.*,
        users.user_id is not null as has_known_user,
        users.invited_at,
        first_value(event_days.source_file || ' row ' || event_days.row_number) over by_key as first_defined_at,
        row_number() over by_key as n_defined
    from event_days
    left join users on event_days.user_id = users.user_id
    window by_key as (
        partition by event_days.user_id, event_days.event_date, event_days.event_name
        order by event_days.source_file, event_days.row_number
    )
),

final as (
    select
        user_id,
        event_date,
        event_name,
        events,
        first_event_at,
        last_event_at,
        deliveries,
        source_file,
        row_number,
        case
            when n_defined > 1
                then 'duplicate user_id, day and event_name ' || user_id || ', ' || event_date || ', ' || event_name
                    || ' (first defined at ' || first_defined_at || ')'
            when not has_known_user
                then 'user_id ' || user_id || ' is not in the users input'
            when event_date < date_trunc('week', invited_at)
                then 'day ' || event_date || ' is before the week the user was invited (' || invited_at || ')'
            when cast(first_event_at as date) <> event_date or cast(last_event_at as date) <> event_date
                then 'first_event_at ' || coalesce(cast(first_event_at as varchar), '') || ' or last_event_at '
                    || coalesce(cast(last_event_at as varchar), '') || ' is not on day ' || event_date
        end as reject_reason
    from ranked
)

select * from final
