-- materialized: view
-- Users who ever used the product, with what ends their time at risk of going silent: their
-- status and drop week (from main.user_status, so the runner creates it once that stage has
-- run), their first week of use and the week their seat was removed. Read by the survival
-- curves and the hazard ratio of going silent (training_tests). Dropped after the build.
-- Grain: one row per user with any use. Key: user_id.
with first_use as (
    select
        user_id,
        min(week) as first_week
    from main.user_weeks
    where events > 0
    group by user_id
),

final as (
    select
        user_status.user_id,
        user_status.site_id,
        user_status.status,
        user_status.drop_week,
        first_use.first_week,
        date_trunc('week', users.deactivated_at)::date as deactivated_week
    from main.user_status as user_status
    inner join first_use on user_status.user_id = first_use.user_id
    inner join core.users as users on user_status.user_id = users.user_id
)

select * from final
