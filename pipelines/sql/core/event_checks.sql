-- materialized: view
-- Every typed event row with the reason it cannot be used, if any.
-- Grain: one row per input row. Key: source_file, row_number.
with events as (
    select * from staging.events
),

users as (
    select user_id, invited_at from core.users
),

final as (
    select
        events.*,
        case
            when users.user_id is null
                then 'user_id ' || events.user_id || ' is not in the users input'
            when events.occurred_at < date_trunc('week', users.invited_at)
                then 'timestamp ' || events.occurred_at || ' is before the week the user was invited ('
                    || users.invited_at || ')'
        end as reject_reason
    from events
    left join users on events.user_id = users.user_id
)

select * from final
