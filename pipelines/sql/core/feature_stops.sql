-- For each user, the feature whose use stopped first, if one did: of the features the user
-- used in at least 3 weeks, those missing from every one of the user's later active weeks
-- where, at the rate the user had used them (weeks with use over active weeks up to the last
-- use, plus one: three weeks of three is not certainty), so long an absence had a chance of 1 in 100 or
-- less; the one of them last used earliest. What to train on when a quiet user is called.
-- Grain: one row per user with such a feature. Key: user_id.
with build_window as (
    select window_end from core.build_window
),

active_weeks as (
    select
        user_id,
        active_week,
        row_number() over (partition by user_id order by active_week) as week_number,
        count(*) over (partition by user_id) as active_weeks
    from (
        select distinct user_id, date_trunc('week', event_date)::date as active_week
        from core.event_days
        where event_date < (select window_end from build_window)
    )
),

feature_weeks as (
    select
        days.user_id,
        features.feature,
        date_trunc('week', days.event_date)::date as active_week,
        max(days.last_event_at) as last_used_at
    from core.user_event_days as days
    inner join core.features as features on days.event_name = features.event_name
    where features.feature is not null and days.event_date < (select window_end from build_window)
    group by all
),

per_feature as (
    select
        user_id,
        feature,
        count(*) as weeks_used,
        max(active_week) as last_week,
        max(last_used_at) as last_used_at
    from feature_weeks
    group by user_id, feature
),

scored as (
    select
        per_feature.*,
        active_weeks.active_weeks - active_weeks.week_number as active_weeks_since,
        -- the chance of no use in those weeks, used in weeks_used of the week_number weeks before
        pow(
            1 - per_feature.weeks_used / (active_weeks.week_number + 1),
            active_weeks.active_weeks - active_weeks.week_number
        )
            as chance
    from per_feature
    inner join active_weeks
        on per_feature.user_id = active_weeks.user_id and per_feature.last_week = active_weeks.active_week
    where per_feature.weeks_used >= 3
),

final as (
    select
        user_id,
        arg_min(feature, (last_week, chance, feature)) as feature,
        arg_min(last_used_at, (last_week, chance, feature)) as last_used_at,
        arg_min(weeks_used, (last_week, chance, feature)) as weeks_used,
        arg_min(active_weeks_since, (last_week, chance, feature)) as active_weeks_since,
        arg_min(chance, (last_week, chance, feature)) as chance
    from scored
    where chance <= 0.01
    group by user_id
)

select * from final
order by user_id
