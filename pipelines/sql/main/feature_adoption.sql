-- Which features each site uses: of the users holding a seat at as_of, how many used each
-- feature in the last 4 weeks, beside the share in the 8 weeks before (of the users holding
-- a seat then) and across all sites, so that a site that never picked a feature up shows
-- as 0 where the portfolio uses it. Empty when the input has no features item.
-- Grain: one row per site and feature. Key: site_id, feature.
with build_window as (
    select as_of, window_end, window_end - interval 28 day as recent_start,
        window_end - interval 84 day as before_start
    from core.build_window
),

features as (
    select distinct feature from core.features where feature is not null
),

users as (
    select
        users.user_id,
        users.site_id,
        users.invited_at < build_window.window_end
            and (users.deactivated_at is null or users.deactivated_at >= build_window.window_end) as is_enrolled_now,
        users.invited_at < build_window.recent_start
            and (users.deactivated_at is null or users.deactivated_at >= build_window.recent_start)
            as was_enrolled_before
    from core.users as users
    cross join build_window
),

uses as (
    select
        days.user_id,
        features.feature,
        bool_or(days.event_date >= build_window.recent_start) as used_recently,
        bool_or(days.event_date < build_window.recent_start) as used_before
    from core.user_event_days as days
    inner join core.features as features on days.event_name = features.event_name
    cross join build_window
    where features.feature is not null
        and days.event_date >= build_window.before_start
        and days.event_date < build_window.window_end
    group by days.user_id, features.feature
),

site_features as (
    select sites.site_id, features.feature
    from core.sites as sites
    cross join features
),

counts as (
    select
        site_features.site_id,
        site_features.feature,
        count(*) filter (where users.is_enrolled_now) as users,
        count(*) filter (where users.is_enrolled_now and uses.used_recently) as users_recent,
        count(*) filter (where users.was_enrolled_before) as users_before,
        count(*) filter (where users.was_enrolled_before and uses.used_before) as used_before
    from site_features
    left join users on site_features.site_id = users.site_id
    left join uses on users.user_id = uses.user_id and site_features.feature = uses.feature
    group by site_features.site_id, site_features.feature
),

final as (
    select
        site_id,
        feature,
        (select as_of from build_window) as as_of,
        users,
        users_recent,
        users_recent / nullif(users, 0) as share_recent,
        users_before,
        used_before / nullif(users_before, 0) as share_before,
        sum(users_recent) over (partition by feature) / nullif(sum(users) over (partition by feature), 0)
            as portfolio_share
    from counts
)

select * from final
order by site_id, feature
