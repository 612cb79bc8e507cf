-- Each trained site's first training week: the Monday of its first attended session
-- (a whole-site session, or one a user attended) before the end of the as_of week.
-- Read by the event study, its pre-trend test and the time at risk of going silent.
-- Grain: one row per site trained by then. Key: site_id.
with attended as (
    select
        site_id,
        session_date
    from core.trainings
    where attended
        and session_date < (select window_end from core.build_window)
),

final as (
    select
        site_id,
        min(date_trunc('week', session_date))::date as first_training_week
    from attended
    group by site_id
)

select * from final
order by site_id
